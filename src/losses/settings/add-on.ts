/**
 * Terms beyond the paper, added to L_G of every setting when their weight is > 0 (in this order):
 * the foreground-normalised MSE (iS²AM), the penalty on making the foreground worse than G's input,
 * the foreground log-ratio ln(fMSE(G(x))/fMSE(x)) (the fPSNR gain itself) and its hinge on images made
 * worse (the worse-than-composite share).
 */
import type { Tensor4D } from '../../engine/tf.ts';
import { foregroundNormalizedMse, noWorsePenalty, foregroundLogRatio, logRatioEps } from '../content.ts';
import type { LossTermEntry } from '../types.ts';

export const ADD_ON_TERMS: readonly LossTermEntry[] = [
  {
    name: 'fnmse',
    weight: { key: 'fnMseWeight', flag: 'fn-mse', description: 'weight of the foreground-normalised MSE (iS²AM) added to L_G; 0 = off' },
    needsInput: false,
    compute: (cfg, t) => foregroundNormalizedMse(t.fake, t.real, t.mask, cfg.fnMseMinArea),
  },
  {
    name: 'noworse',
    weight: { key: 'noWorseWeight', flag: 'no-worse', description: 'weight of the penalty on making the foreground worse than the input; 0 = off', default: 0 },
    needsInput: true,
    compute: (cfg, t) => noWorsePenalty(t.fake, t.real, t.input as Tensor4D, t.mask, cfg.fnMseMinArea),
  },
  {
    name: 'logratio',
    weight: { key: 'logRatioWeight', flag: 'log-ratio', description: 'weight of the foreground log-ratio ln(fMSE(out)/fMSE(in)) (the fPSNR gain itself); 0 = off', default: 0 },
    needsInput: true,
    compute: (cfg, t) => foregroundLogRatio(t.fake, t.real, t.input as Tensor4D, t.mask, cfg.fnMseMinArea, logRatioEps(cfg)),
  },
  {
    name: 'worselog',
    weight: { key: 'worseLogWeight', flag: 'worse-log', description: 'weight of the hinge max(0, ln(fMSE(out)/fMSE(in))) on images made worse (the worse-than-composite share); 0 = off', default: 0 },
    needsInput: true,
    compute: (cfg, t) => foregroundLogRatio(t.fake, t.real, t.input as Tensor4D, t.mask, cfg.fnMseMinArea, logRatioEps(cfg), true),
  },
];
