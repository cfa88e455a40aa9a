/**
 * The native addon's op codes, in one place: each table lists its ops in code order (the index is the
 * code), with the C++ enumerator and, for the ops the backend registers, the TensorFlow.js kernel name.
 * native/op_codes.h is generated from these tables (`node --import tsx scripts/gen-op-codes.mts`;
 * test/engine/op-codes.test.ts fails when it is out of date), and the TypeScript maps below are
 * derived from them, so the two sides cannot drift. Entries without a kernel name are implemented in
 * C++ but not registered (kept so that the codes after them, and built addons, stay valid).
 */

export interface OpCode {
  /** The C++ enumerator (native/op_codes.h). */
  cpp: string;
  /** The TensorFlow.js kernel (or activation) name the backend maps to this code, if registered. */
  name?: string;
  /** A code kept free: neither implemented nor registered (removing it would renumber the codes after it). */
  reserved?: boolean;
}

/** `enum Act`: fused activations of conv2d / matMul and activationGrad. */
export const ACT_OPS: readonly OpCode[] = [
  { cpp: 'ACT_LINEAR', name: 'linear' }, { cpp: 'ACT_RELU', name: 'relu' }, { cpp: 'ACT_LEAKY', name: 'leakyrelu' },
  { cpp: 'ACT_SIGMOID', name: 'sigmoid' }, { cpp: 'ACT_ELU', name: 'elu' }, { cpp: 'ACT_RELU6', name: 'relu6' },
];

/** `enum BinOp`: binary / binaryStrided. */
export const BINARY_OPS: readonly OpCode[] = [
  { cpp: 'B_ADD', name: 'Add' }, { cpp: 'B_SUB', name: 'Sub' }, { cpp: 'B_MUL', name: 'Multiply' }, { cpp: 'B_DIV', name: 'RealDiv' },
  { cpp: 'B_MAX', name: 'Maximum' }, { cpp: 'B_MIN', name: 'Minimum' }, { cpp: 'B_SQDIFF', name: 'SquaredDifference' }, { cpp: 'B_POW' },
];

/** `enum CmpOp`: compare. */
export const COMPARE_OPS: readonly OpCode[] = [
  { cpp: 'C_GREATER', name: 'Greater' }, { cpp: 'C_GREATER_EQ', name: 'GreaterEqual' }, { cpp: 'C_LESS', name: 'Less' },
  { cpp: 'C_LESS_EQ', name: 'LessEqual' }, { cpp: 'C_EQUAL', name: 'Equal' }, { cpp: 'C_NOT_EQUAL', name: 'NotEqual' },
];

/** `enum UnOp`: unary. */
export const UNARY_OPS: readonly OpCode[] = [
  { cpp: 'U_RELU', name: 'Relu' }, { cpp: 'U_LEAKY', name: 'LeakyRelu' }, { cpp: 'U_STEP', name: 'Step' }, { cpp: 'U_SIGMOID', name: 'Sigmoid' },
  { cpp: 'U_ABS', name: 'Abs' }, { cpp: 'U_SQRT', name: 'Sqrt' }, { cpp: 'U_SQUARE', name: 'Square' }, { cpp: 'U_NEG', name: 'Neg' },
  { cpp: 'U_EXP', name: 'Exp' }, { cpp: 'U_LOG', name: 'Log' }, { cpp: 'U_LOG1P', name: 'Log1p' }, { cpp: 'U_TANH', name: 'Tanh' },
  { cpp: 'U_SIGN' }, { cpp: 'U_RSQRT', name: 'Rsqrt' }, { cpp: 'U_RECIPROCAL', name: 'Reciprocal' }, { cpp: 'U_SOFTPLUS', reserved: true },
  { cpp: 'U_ELU', name: 'Elu' }, { cpp: 'U_RELU6', name: 'Relu6' },
];

/** `enum ReduceOp`: reduce. */
export const REDUCE_OPS: readonly OpCode[] = [
  { cpp: 'R_SUM', name: 'Sum' }, { cpp: 'R_MEAN', name: 'Mean' }, { cpp: 'R_MAX', name: 'Max' }, { cpp: 'R_MIN', name: 'Min' },
];

/** The enums of native/op_codes.h, in order. */
export const OP_ENUMS: readonly { enumName: string; ops: readonly OpCode[] }[] = [
  { enumName: 'Act', ops: ACT_OPS },
  { enumName: 'BinOp', ops: BINARY_OPS },
  { enumName: 'CmpOp', ops: COMPARE_OPS },
  { enumName: 'UnOp', ops: UNARY_OPS },
  { enumName: 'ReduceOp', ops: REDUCE_OPS },
];

/** name → code, for the registered entries of a table. */
export function codesByName(ops: readonly OpCode[]): Readonly<Record<string, number>> {
  const out: Record<string, number> = {};
  ops.forEach((o, code) => {
    if (o.name !== undefined) out[o.name] = code;
  });
  return Object.freeze(out);
}

/** The text of native/op_codes.h. */
export function opCodesHeader(): string {
  const lines = [
    '// Generated from src/engine/native/op-codes.ts by scripts/gen-op-codes.mts: do not edit by hand.',
    '// The op codes the addon shares with the TypeScript side of the native backend.',
    '#pragma once',
    '',
  ];
  for (const { enumName, ops } of OP_ENUMS) {
    lines.push(`enum ${enumName} {`);
    ops.forEach((o, code) => lines.push(`  ${o.cpp} = ${code},${o.name ? ` // ${o.name}` : o.reserved ? ' // reserved: not implemented' : ' // implemented, not registered by the backend'}`));
    lines.push('};', '');
  }
  return lines.join('\n');
}
