/**
 * The one place the code base imports TensorFlow.js from. Everything else does
 * `import { tf } from '../engine/tf.ts'`, so the backend choice stays in engine/.
 */
import * as tf from '@tensorflow/tfjs';
import { env } from '../config/index.ts';
// no TF.js console banners ("Hi, looks like you are running TensorFlow.js in Node.js…", platform notes):
// PROD only silences TF.js's console.warn calls; HARMONIA_DEBUG=1 keeps them
if (!env.debug) tf.env().set('PROD', true);
export { tf };
export type Tensor = tf.Tensor;
export type Tensor4D = tf.Tensor4D;
export type Tensor3D = tf.Tensor3D;
export type Scalar = tf.Scalar;
