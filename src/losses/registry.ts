/**
 * Loss settings by name (like the generator registry, src/models/registry.ts). A setting is the
 * content part of L_G: it declares its terms, the LossConfig weights it reads (each with its CLI flag;
 * those marked sweepable can be swept by `harmonia sweep`), whether it needs VGG-19 features, and
 * its Table 1 column. Add-on terms (FN-MSE, no-worse penalty, foreground log-ratio) are added to
 * every setting when their weight is > 0; they are registered here too (`registerLossTerm`).
 *
 * The trainer, the experiment, the sweep, the presets and the CLI flags all read these entries.
 * Adding a setting: one file in settings/ plus one `registerLossSetting` line at the end of this file.
 */
import type { Scalar, Tensor, Tensor4D } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import type { FeatureExtractor } from './feature.ts';
import type { LossConfig } from './index.ts';
import { CONTENT_SETTING } from './settings/content.ts';
import { MASK_SETTING } from './settings/mask.ts';
import { FEATURE_SETTING } from './settings/feature.ts';
import { ADD_ON_TERMS } from './settings/add-on.ts';

/** What a loss term sees: `fake` = G(x), `real` = X, `mask` N×H×W×1, D's logits on G(x), G's input. */
export interface LossInputs {
  fake: Tensor4D;
  real: Tensor4D;
  mask: Tensor4D;
  fakeLogits: Tensor;
  /** VGG-19 feature maps (settings with `needsFeatures`). */
  features?: FeatureExtractor;
  /** What G was given (terms with `needsInput`). */
  input?: Tensor4D;
}

/** A numeric LossConfig field a setting or term reads, with its CLI flag. */
export interface LossWeight {
  /** LossConfig field (a new setting may add its own field: it travels in the saved config). */
  key: string;
  /** CLI flag without the dashes, e.g. `lambda-mask`. */
  flag: string;
  description: string;
  /** Value when the config does not have the field (a setting added after a config was saved). */
  default?: number;
  /** `harmonia sweep` takes a list of values for it (default true). */
  sweep?: boolean;
}

/** A string-list LossConfig field with its CLI flag (comma-separated), e.g. the feature taps. */
export interface LossListOption {
  key: string;
  flag: string;
  description: string;
}

export interface LossSettingEntry {
  name: string;
  description: string;
  /** Column of Table 1 (`harmonia experiment`). */
  column: string;
  /** The terms need a FeatureExtractor (VGG-19): the trainer builds one and the experiment checks the weights first. */
  needsFeatures: boolean;
  weights: readonly LossWeight[];
  lists?: readonly LossListOption[];
  /** The content terms, each already weighted, named as the log's loss parts (in summation order). */
  terms(cfg: LossConfig, t: LossInputs): Record<string, Scalar>;
  /** Checks beyond "every weight is a finite number ≥ 0". */
  validate?(cfg: LossConfig, where: string): void;
}

/** A term added to L_G of every setting when its weight is > 0. */
export interface LossTermEntry {
  /** Loss-part name in the log (e.g. `fnmse`). */
  name: string;
  weight: LossWeight;
  /** The term needs G's input (`LossInputs.input`). */
  needsInput: boolean;
  /** The unweighted term. */
  compute(cfg: LossConfig, t: LossInputs): Scalar;
}

const SETTINGS = new Map<string, LossSettingEntry>();
const TERMS = new Map<string, LossTermEntry>();

/** The value of a weight in a config (its default, else 0, when the field is absent). */
export function lossWeight(cfg: LossConfig, w: LossWeight): number {
  const v = (cfg as unknown as Record<string, unknown>)[w.key];
  return typeof v === 'number' ? v : (w.default ?? 0);
}

/** Registers a loss setting (a new name; re-registering a name is an error). */
export function registerLossSetting(entry: LossSettingEntry): void {
  if (!/^[a-z][a-z0-9-]*$/.test(entry.name)) throw new HarmoniaError(`registerLossSetting: name must be lower-case letters, digits or "-", got "${entry.name}"`);
  if (SETTINGS.has(entry.name)) throw new HarmoniaError(`registerLossSetting: "${entry.name}" is already registered`);
  SETTINGS.set(entry.name, entry);
}

/** Registers an add-on term (a new part name). */
export function registerLossTerm(entry: LossTermEntry): void {
  if (TERMS.has(entry.name)) throw new HarmoniaError(`registerLossTerm: "${entry.name}" is already registered`);
  TERMS.set(entry.name, entry);
}

/** The entry of setting `name`; unknown names list the registered ones. */
export function lossSetting(name: string): LossSettingEntry {
  const e = SETTINGS.get(name);
  if (!e) throw new HarmoniaError(`loss setting: unknown setting "${name}" (registered: ${lossSettingNames().join(', ')})`);
  return e;
}

export function lossSettingNames(): string[] {
  return [...SETTINGS.keys()];
}

/** Throws `<flag>: must be one of …` unless `name` is a registered setting. */
export function assertLossSetting(name: string, flag: string): void {
  if (!SETTINGS.has(name)) throw new HarmoniaError(`${flag}: must be one of ${lossSettingNames().join(', ')}, got "${name}"`);
}

export function lossTerms(): LossTermEntry[] {
  return [...TERMS.values()];
}

/** Every weight of every setting and add-on term, once per key, with the settings that use it. */
export function allLossWeights(): { weight: LossWeight; settings: string[] }[] {
  const out = new Map<string, { weight: LossWeight; settings: string[] }>();
  for (const s of SETTINGS.values()) {
    for (const w of s.weights) {
      const e = out.get(w.key);
      if (e) e.settings.push(s.name); else out.set(w.key, { weight: w, settings: [s.name] });
    }
  }
  for (const t of TERMS.values()) if (!out.has(t.weight.key)) out.set(t.weight.key, { weight: t.weight, settings: [] });
  return [...out.values()];
}

/** Every list option of every setting, once per key. */
export function allLossLists(): { list: LossListOption; settings: string[] }[] {
  const out = new Map<string, { list: LossListOption; settings: string[] }>();
  for (const s of SETTINGS.values()) {
    for (const l of s.lists ?? []) {
      const e = out.get(l.key);
      if (e) e.settings.push(s.name); else out.set(l.key, { list: l, settings: [s.name] });
    }
  }
  return [...out.values()];
}

/** The weights `harmonia sweep` can vary for `setting`: its own sweepable weights, then the add-on terms'. */
export function sweepableWeights(setting: string): LossWeight[] {
  const own = lossSetting(setting).weights.filter((w) => w.sweep !== false);
  const terms = lossTerms().map((t) => t.weight).filter((w) => w.sweep !== false && !own.some((o) => o.key === w.key));
  return [...own, ...terms];
}

registerLossSetting(CONTENT_SETTING);
registerLossSetting(MASK_SETTING);
registerLossSetting(FEATURE_SETTING);
for (const t of ADD_ON_TERMS) registerLossTerm(t);
