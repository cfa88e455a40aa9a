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
import type { Scalar } from '../engine/tf.ts';
import { HarmoniaError } from '../errors.ts';
import type { LossConfig, LossInputs, LossWeight, LossListOption, LossSettingEntry, LossTermEntry } from './types.ts';
import { CONTENT_SETTING } from './settings/content.ts';
import { MASK_SETTING } from './settings/mask.ts';
import { FEATURE_SETTING } from './settings/feature.ts';
import { ADD_ON_TERMS } from './settings/add-on.ts';

// the entry types live in types.ts (settings/ import them from there)
export type { LossInputs, LossWeight, LossListOption, LossSettingEntry, LossTermEntry } from './types.ts';

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
