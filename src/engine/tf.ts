/**
 * The one place the code base imports TensorFlow.js from. Everything else does
 * `import { tf } from '../engine/tf.ts'`, so the backend choice stays in engine/.
 */
import * as tf from '@tensorflow/tfjs';
export { tf };
export type Tensor = tf.Tensor;
export type Tensor4D = tf.Tensor4D;
export type Tensor3D = tf.Tensor3D;
export type Scalar = tf.Scalar;
