/**
 * A generator's configuration as saved in harmonia.json and the training state (no TensorFlow.js):
 * `kind` names a registry entry (src/models/registry.ts); the other fields are the options of the
 * built-in kinds.
 */
export interface GeneratorConfig {
  /** Registered generator name (src/models/registry.ts): 'paper' (default), 'global', 'pct', … */
  kind?: string;
  /** Colour-transform generators: side of the square analysis copy the backbone sees. Default 128. */
  analysisSize?: number;
  /** Colour-transform generators: MLP width. Default 128. */
  hidden?: number;
  /** Colour-transform generators: bins per channel of the foreground/background colour histograms fed to the MLP (0 = off). Default 0. */
  histogramBins?: number;
  /** Colour-transform generators: hidden layers of the MLP. Default 1. */
  mlpLayers?: number;
  /** Colour-transform generators: initial blend-gate logit. Default 2. */
  gateBias?: number;
  /** Channels of the first layer; the encoder has base, 2·base, 4·base. Default 32. */
  base?: number;
  /** U-Net skip connections (encoder features concatenated into the decoder). Default false. */
  unet?: boolean;
  /** The mask is a 4th input channel seen by the convolutions. Default false. */
  maskInput?: boolean;
  /**
   * Output = input + scale·tanh(delta), clipped to [0,1], blended by the mask so pixels with
   * mask 0 are returned unchanged. Needs the mask (the model input then has 4 channels even when
   * `maskInput` is false; the convolutions then see RGB only). Default false.
   */
  residual?: boolean;
  /** Largest change the residual output can make (tanh scale). Default 1. */
  residualScale?: number;
  /** Seed for the weight initialisers: the same config and seed give identical weights. Default 0. */
  seed?: number;
}
