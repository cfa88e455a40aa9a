// Generated from src/engine/native/op-codes.ts by scripts/gen-op-codes.mts: do not edit by hand.
// The op codes the addon shares with the TypeScript side of the native backend.
#pragma once

enum Act {
  ACT_LINEAR = 0, // linear
  ACT_RELU = 1, // relu
  ACT_LEAKY = 2, // leakyrelu
  ACT_SIGMOID = 3, // sigmoid
  ACT_ELU = 4, // elu
  ACT_RELU6 = 5, // relu6
};

enum BinOp {
  B_ADD = 0, // Add
  B_SUB = 1, // Sub
  B_MUL = 2, // Multiply
  B_DIV = 3, // RealDiv
  B_MAX = 4, // Maximum
  B_MIN = 5, // Minimum
  B_SQDIFF = 6, // SquaredDifference
  B_POW = 7, // implemented, not registered by the backend
};

enum CmpOp {
  C_GREATER = 0, // Greater
  C_GREATER_EQ = 1, // GreaterEqual
  C_LESS = 2, // Less
  C_LESS_EQ = 3, // LessEqual
  C_EQUAL = 4, // Equal
  C_NOT_EQUAL = 5, // NotEqual
};

enum UnOp {
  U_RELU = 0, // Relu
  U_LEAKY = 1, // LeakyRelu
  U_STEP = 2, // Step
  U_SIGMOID = 3, // Sigmoid
  U_ABS = 4, // Abs
  U_SQRT = 5, // Sqrt
  U_SQUARE = 6, // Square
  U_NEG = 7, // Neg
  U_EXP = 8, // Exp
  U_LOG = 9, // Log
  U_LOG1P = 10, // Log1p
  U_TANH = 11, // Tanh
  U_SIGN = 12, // implemented, not registered by the backend
  U_RSQRT = 13, // Rsqrt
  U_RECIPROCAL = 14, // Reciprocal
  U_SOFTPLUS = 15, // reserved: not implemented
  U_ELU = 16, // Elu
  U_RELU6 = 17, // Relu6
};

enum ReduceOp {
  R_SUM = 0, // Sum
  R_MEAN = 1, // Mean
  R_MAX = 2, // Max
  R_MIN = 3, // Min
};
