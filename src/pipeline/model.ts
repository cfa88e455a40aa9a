/** Harmonization model folders: src/models/folder.ts (the trainer saves them too, so they live in models/). */
export * from '../models/folder.ts';
