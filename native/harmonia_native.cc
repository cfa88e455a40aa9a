// harmonia_native: CPU kernels for TensorFlow.js on oneDNN (Debian libdnnl 2.x), exposed through
// plain N-API (node_api.h). Every function works in place on Float32Arrays owned by JavaScript
// (zero copy): the TypeScript side (src/engine/native/) allocates the output array, computes the
// geometry with tfjs's own helpers, and calls one of these synchronously.
//
// Layouts: activations NHWC, filters HWIO (as tfjs stores them), matrices row-major.
// oneDNN primitives are cached by geometry; the filter is reordered from HWIO into the blocked
// layout the chosen implementation wants on every call (filters change every training step).
#include <node_api.h>

#include <dnnl.h>
#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <malloc.h>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
// One stream, primitive cache and impl note per thread: Node worker_threads may each load the addon
// and call it concurrently (the engine is shared; oneDNN engines are thread-safe).
dnnl::stream& strm() {
  thread_local dnnl::stream s(eng());
  return s;
}

// ---------------------------------------------------------------------------------------------
// N-API helpers
// ---------------------------------------------------------------------------------------------
struct JsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

#define NAPI_OK(call)                                                   \
  do {                                                                  \
    if ((call) != napi_ok) throw JsError("N-API call failed: " #call); \
  } while (0)

struct F32 {
  float* data = nullptr;
  size_t length = 0;
};

F32 f32Arg(napi_env env, napi_value v, const char* what, bool optional = false) {
  napi_valuetype t;
  NAPI_OK(napi_typeof(env, v, &t));
  if (optional && (t == napi_null || t == napi_undefined)) return F32{};
  bool isTa = false;
  NAPI_OK(napi_is_typedarray(env, v, &isTa));
  if (!isTa) throw JsError(std::string(what) + ": expected a Float32Array");
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value ab;
  size_t offset;
  NAPI_OK(napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset));
  if (type != napi_float32_array) throw JsError(std::string(what) + ": expected a Float32Array");
  return F32{static_cast<float*>(data), length};
}

std::vector<int64_t> intsArg(napi_env env, napi_value v, const char* what, size_t want) {
  bool isTa = false;
  NAPI_OK(napi_is_typedarray(env, v, &isTa));
  if (!isTa) throw JsError(std::string(what) + ": expected an Int32Array");
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value ab;
  size_t offset;
  NAPI_OK(napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset));
  if (type != napi_int32_array || length != want) {
    throw JsError(std::string(what) + ": expected an Int32Array of " + std::to_string(want) + " values");
  }
  const int32_t* p = static_cast<const int32_t*>(data);
  return std::vector<int64_t>(p, p + length);
}

double numArg(napi_env env, napi_value v, const char* what) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) throw JsError(std::string(what) + ": expected a number");
  return d;
}

std::vector<napi_value> args(napi_env env, napi_callback_info info, size_t want) {
  size_t argc = want;
  std::vector<napi_value> argv(want);
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr));
  if (argc < want) throw JsError("expected " + std::to_string(want) + " arguments, got " + std::to_string(argc));
  return argv;
}

void need(const F32& a, size_t n, const char* what) {
  if (a.length != n) {
    throw JsError(std::string(what) + ": expected " + std::to_string(n) + " values, got " + std::to_string(a.length));
  }
}

template <typename Fn>
napi_value guarded(napi_env env, Fn fn) {
  try {
    return fn();
  } catch (const dnnl::error& e) {
    napi_throw_error(env, "HARMONIA_NATIVE_DNNL", (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, "HARMONIA_NATIVE", e.what());
  }
  return nullptr;
}

napi_value undefinedValue(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// ---------------------------------------------------------------------------------------------
// Convolution geometry: [n,h,w,ci, kh,kw,co, oh,ow, sh,sw, dh,dw, pt,pl,pb,pr] (tfjs conventions:
// dilation 1 = none; pads as tfjs's computeConv2DInfo padInfo).
// ---------------------------------------------------------------------------------------------
struct Geom {
  int64_t n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, pt, pl, pb, pr;
  explicit Geom(const std::vector<int64_t>& g)
      : n(g[0]), h(g[1]), w(g[2]), ci(g[3]), kh(g[4]), kw(g[5]), co(g[6]), oh(g[7]), ow(g[8]), sh(g[9]),
        sw(g[10]), dh(g[11]), dw(g[12]), pt(g[13]), pl(g[14]), pb(g[15]), pr(g[16]) {
    for (int64_t v : {n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw}) {
      if (v < 1) throw JsError("conv geometry: sizes, strides and dilations must be >= 1");
    }
    if (pt < 0 || pl < 0 || pb < 0 || pr < 0) throw JsError("conv geometry: negative padding");
  }
  // oneDNN needs padding_r consistent with the output size: (in + pl + pr - ext) / s + 1 == out.
  int64_t padR(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t padL) const {
    const int64_t ext = (k - 1) * d + 1;
    return (out - 1) * s + ext - in - padL;
  }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dilates() const { return {dh - 1, dw - 1}; }
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padRight() const { return {padR(h, oh, kh, sh, dh, pt), padR(w, ow, kw, sw, dw, pl)}; }
  memory::desc src(tag t = tag::nhwc) const { return memory::desc({n, ci, h, w}, dt::f32, t); }
  memory::desc dst(tag t = tag::nhwc) const { return memory::desc({n, co, oh, ow}, dt::f32, t); }
  memory::desc wei(tag t) const { return memory::desc({co, ci, kh, kw}, dt::f32, t); }
  memory::desc bias() const { return memory::desc({co}, dt::f32, tag::x); }
  std::string key() const {
    std::string k;
    for (int64_t v : {n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, pt, pl, pb, pr}) k += std::to_string(v) + ",";
    return k;
  }
  size_t srcSize() const { return size_t(n * h * w * ci); }
  size_t dstSize() const { return size_t(n * oh * ow * co); }
  size_t weiSize() const { return size_t(kh * kw * ci * co); }
};

// Activation codes shared with src/engine/native/addon.ts.
// Act, BinOp, CmpOp, UnOp, ReduceOp: generated from src/engine/native/op-codes.ts (the one source of the op codes)
#include "op_codes.h"

dnnl::primitive_attr actAttr(int act, float alpha) {
  dnnl::primitive_attr attr;
  if (act != ACT_LINEAR) {
    dnnl::post_ops po;
    switch (act) {
      case ACT_RELU: po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
      case ACT_LEAKY: po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f); break;
      case ACT_SIGMOID: po.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); break;
      case ACT_ELU: po.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f); break;
      case ACT_RELU6: po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f); break;
      default: throw JsError("conv2d: unknown activation code " + std::to_string(act));
    }
    attr.set_post_ops(po);
  }
  return attr;
}

// Winograd F(4x4, 3x3) (oneDNN's jit_wino_4x3, AVX-512 only) for 3x3 stride-1 convolutions with
// enough channels and pixels: 1.3-2.3x faster than the direct kernels on the VGG layers (forward and
// backward data), with results within ~1e-6 of the largest output (relative). It needs oneDNN's
// blocked activation layout, so its entries reorder NHWC in and out through per-thread scratch
// buffers. Small maps (16x16 at 512 channels) and thin inputs (RGB) stay direct, where Winograd is
// slower. HARMONIA_NATIVE_WINOGRAD=0 turns it off; machines without AVX-512 fall back to direct.
bool winogradEnabled() {
  static const bool on = [] {
    const char* v = std::getenv("HARMONIA_NATIVE_WINOGRAD");
    return !(v && std::string(v) == "0");
  }();
  return on;
}
bool winogradEligible(const Geom& g) {
  return winogradEnabled() && g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 &&
         g.ci >= 16 && g.co >= 16 && g.oh * g.ow >= 32 * 32;
}

dnnl::convolution_forward::primitive_desc fwdPd(const Geom& g, bool withBias, const dnnl::primitive_attr& attr,
                                                dnnl::prop_kind kind, dnnl::algorithm alg, tag act) {
  auto d = withBias ? dnnl::convolution_forward::desc(kind, alg, g.src(act), g.wei(tag::any), g.bias(), g.dst(act),
                                                      g.strides(), g.dilates(), g.padL(), g.padRight())
                    : dnnl::convolution_forward::desc(kind, alg, g.src(act), g.wei(tag::any), g.dst(act), g.strides(),
                                                      g.dilates(), g.padL(), g.padRight());
  return dnnl::convolution_forward::primitive_desc(d, attr, eng());
}

dnnl::convolution_forward::primitive_desc fwdHint(const Geom& g, bool withBias, const dnnl::primitive_attr& attr,
                                                  dnnl::prop_kind kind) {
  return fwdPd(g, withBias, attr, kind, dnnl::algorithm::convolution_direct, tag::nhwc);
}

// A per-thread, growable, 64-byte aligned buffer (blocked activations of Winograd entries).
struct Scratch {
  void* p = nullptr;
  size_t bytes = 0;
  void* get(size_t want) {
    if (want > bytes) {
      std::free(p);
      bytes = (want + 63) / 64 * 64;
      p = std::aligned_alloc(64, bytes);
      if (!p) {
        bytes = 0;
        throw JsError("out of memory for a convolution scratch buffer");
      }
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};
// One set per thread, shared by every cached primitive: filters are reordered into oneDNN's layout on
// every call anyway (they change every training step), so a blocked copy per primitive would only
// hold memory (hundreds of MB for VGG-19's Winograd-transformed filters).
thread_local Scratch scratchIn, scratchOut, scratchWei;

// NHWC <-> blocked reorders around a Winograd primitive (unused for direct entries).
struct Blocked {
  bool on = false;
  memory::desc in, out;         // the primitive's blocked input (src or diff_dst) and output
  dnnl::reorder toIn, fromOut;  // NHWC input -> blocked, blocked output -> NHWC
  void init(const memory::desc& userIn, const memory::desc& blkIn, const memory::desc& blkOut, const memory::desc& userOut) {
    on = true;
    in = blkIn;
    out = blkOut;
    toIn = dnnl::reorder(memory(userIn, eng(), nullptr), memory(blkIn, eng(), nullptr));
    fromOut = dnnl::reorder(memory(blkOut, eng(), nullptr), memory(userOut, eng(), nullptr));
  }
};

struct FwdEntry {
  dnnl::convolution_forward prim;
  dnnl::reorder weiReorder;
  memory::desc weiDesc;  // the blocked filter (in the per-thread weight scratch while the call runs)
  Blocked blk;    // Winograd: src/dst in oneDNN's blocked layout
  std::string impl;
};
struct BwdDataEntry {
  dnnl::convolution_backward_data prim;
  dnnl::reorder weiReorder;
  memory::desc weiDesc;
  Blocked blk;  // Winograd: diff_dst/diff_src in oneDNN's blocked layout
  std::string impl;
};
struct BwdWeiEntry {
  dnnl::convolution_backward_weights prim;
  dnnl::reorder weiReorder;  // blocked diff_weights -> HWIO
  memory::desc weiDesc;
  std::string impl;
};

thread_local std::unordered_map<std::string, std::unique_ptr<FwdEntry>> fwdCache;
thread_local std::unordered_map<std::string, std::unique_ptr<BwdDataEntry>> bwdDataCache;
thread_local std::unordered_map<std::string, std::unique_ptr<BwdWeiEntry>> bwdWeiCache;
thread_local std::string lastImpl;

FwdEntry& fwdEntry(const Geom& g, bool withBias, int act, float alpha) {
  const std::string key = g.key() + (withBias ? "b" : "") + std::to_string(act) + ":" + std::to_string(alpha);
  auto it = fwdCache.find(key);
  if (it != fwdCache.end()) return *it->second;
  auto attr = actAttr(act, alpha);
  auto e = std::make_unique<FwdEntry>();
  dnnl::convolution_forward::primitive_desc pd;
  if (winogradEligible(g)) {
    try {
      // forward_training, not _inference: for inference oneDNN picks a Winograd weight layout whose
      // per-call transform (the filters change every training step) made the conv 4x slower.
      pd = fwdPd(g, withBias, attr, dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_winograd, tag::any);
      e->blk.init(g.src(), pd.src_desc(), pd.dst_desc(), g.dst());
    } catch (const dnnl::error&) {
      e->blk.on = false;  // no Winograd implementation on this CPU
    }
  }
  if (!e->blk.on) pd = fwdHint(g, withBias, attr, dnnl::prop_kind::forward_inference);
  e->prim = dnnl::convolution_forward(pd);
  e->weiDesc = pd.weights_desc();
  e->weiReorder = dnnl::reorder(memory(g.wei(tag::hwio), eng(), nullptr), memory(e->weiDesc, eng(), nullptr));
  e->impl = pd.impl_info_str();
  auto& ref = *e;
  fwdCache.emplace(key, std::move(e));
  return ref;
}

BwdDataEntry& bwdDataEntry(const Geom& g) {
  const std::string key = g.key();
  auto it = bwdDataCache.find(key);
  if (it != bwdDataCache.end()) return *it->second;
  auto e = std::make_unique<BwdDataEntry>();
  dnnl::convolution_backward_data::primitive_desc pd;
  if (winogradEligible(g)) {
    try {
      const auto wino = dnnl::algorithm::convolution_winograd;
      auto hint = fwdPd(g, false, dnnl::primitive_attr(), dnnl::prop_kind::forward_training, wino, tag::any);
      auto d = dnnl::convolution_backward_data::desc(wino, g.src(tag::any), g.wei(tag::any), g.dst(tag::any), g.strides(),
                                                     g.dilates(), g.padL(), g.padRight());
      pd = dnnl::convolution_backward_data::primitive_desc(d, eng(), hint);
      e->blk.init(g.dst(), pd.diff_dst_desc(), pd.diff_src_desc(), g.src());
    } catch (const dnnl::error&) {
      e->blk.on = false;
    }
  }
  if (!e->blk.on) {
    auto hint = fwdHint(g, false, dnnl::primitive_attr(), dnnl::prop_kind::forward_training);
    auto d = dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, g.src(), g.wei(tag::any),
                                                   g.dst(), g.strides(), g.dilates(), g.padL(), g.padRight());
    pd = dnnl::convolution_backward_data::primitive_desc(d, eng(), hint);
  }
  e->prim = dnnl::convolution_backward_data(pd);
  e->weiDesc = pd.weights_desc();
  e->weiReorder = dnnl::reorder(memory(g.wei(tag::hwio), eng(), nullptr), memory(e->weiDesc, eng(), nullptr));
  e->impl = pd.impl_info_str();
  auto& ref = *e;
  bwdDataCache.emplace(key, std::move(e));
  return ref;
}

BwdWeiEntry& bwdWeiEntry(const Geom& g) {
  const std::string key = g.key();
  auto it = bwdWeiCache.find(key);
  if (it != bwdWeiCache.end()) return *it->second;
  auto hint = fwdHint(g, false, dnnl::primitive_attr(), dnnl::prop_kind::forward_training);
  auto d = dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, g.src(), g.wei(tag::any),
                                                    g.dst(), g.strides(), g.dilates(), g.padL(), g.padRight());
  auto pd = dnnl::convolution_backward_weights::primitive_desc(d, eng(), hint);
  auto e = std::make_unique<BwdWeiEntry>();
  e->prim = dnnl::convolution_backward_weights(pd);
  e->weiDesc = pd.diff_weights_desc();
  e->weiReorder = dnnl::reorder(memory(e->weiDesc, eng(), nullptr), memory(g.wei(tag::hwio), eng(), nullptr));
  e->impl = pd.impl_info_str();
  auto& ref = *e;
  bwdWeiCache.emplace(key, std::move(e));
  return ref;
}

// conv2d(x, filter, bias|null, out, geom Int32Array(17), act, alpha)
napi_value Conv2d(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 7);
    Geom g(intsArg(env, a[4], "conv2d geometry", 17));
    F32 x = f32Arg(env, a[0], "conv2d x"), f = f32Arg(env, a[1], "conv2d filter");
    F32 b = f32Arg(env, a[2], "conv2d bias", true), y = f32Arg(env, a[3], "conv2d output");
    need(x, g.srcSize(), "conv2d x");
    need(f, g.weiSize(), "conv2d filter");
    need(y, g.dstSize(), "conv2d output");
    if (b.data) need(b, size_t(g.co), "conv2d bias");
    int act = int(numArg(env, a[5], "conv2d activation"));
    float alpha = float(numArg(env, a[6], "conv2d alpha"));
    FwdEntry& e = fwdEntry(g, b.data != nullptr, act, alpha);
    memory userW(g.wei(tag::hwio), eng(), f.data);
    memory wei(e.weiDesc, eng(), scratchWei.get(e.weiDesc.get_size()));
    e.weiReorder.execute(strm(), userW, wei);
    memory src(g.src(), eng(), x.data), dst(g.dst(), eng(), y.data);
    memory srcUse = src, dstUse = dst;
    if (e.blk.on) {
      srcUse = memory(e.blk.in, eng(), scratchIn.get(e.blk.in.get_size()));
      dstUse = memory(e.blk.out, eng(), scratchOut.get(e.blk.out.get_size()));
      e.blk.toIn.execute(strm(), src, srcUse);
    }
    std::unordered_map<int, memory> m{{DNNL_ARG_SRC, srcUse}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dstUse}};
    if (b.data) m.emplace(DNNL_ARG_BIAS, memory(g.bias(), eng(), b.data));
    e.prim.execute(strm(), m);
    if (e.blk.on) e.blk.fromOut.execute(strm(), dstUse, dst);
    strm().wait();
    lastImpl = e.impl;
    return undefinedValue(env);
  });
}

// conv2dBackpropInput(dy, filter, dx, geom): dx = conv^T(dy); geometry of the forward conv x -> dy.
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    Geom g(intsArg(env, a[3], "conv2dBackpropInput geometry", 17));
    F32 dy = f32Arg(env, a[0], "conv2dBackpropInput dy"), f = f32Arg(env, a[1], "conv2dBackpropInput filter");
    F32 dx = f32Arg(env, a[2], "conv2dBackpropInput dx");
    need(dy, g.dstSize(), "conv2dBackpropInput dy");
    need(f, g.weiSize(), "conv2dBackpropInput filter");
    need(dx, g.srcSize(), "conv2dBackpropInput dx");
    BwdDataEntry& e = bwdDataEntry(g);
    memory userW(g.wei(tag::hwio), eng(), f.data);
    memory wei(e.weiDesc, eng(), scratchWei.get(e.weiDesc.get_size()));
    e.weiReorder.execute(strm(), userW, wei);
    memory ddst(g.dst(), eng(), dy.data), dsrc(g.src(), eng(), dx.data);
    memory ddstUse = ddst, dsrcUse = dsrc;
    if (e.blk.on) {
      ddstUse = memory(e.blk.in, eng(), scratchIn.get(e.blk.in.get_size()));
      dsrcUse = memory(e.blk.out, eng(), scratchOut.get(e.blk.out.get_size()));
      e.blk.toIn.execute(strm(), ddst, ddstUse);
    }
    e.prim.execute(strm(), {{DNNL_ARG_DIFF_DST, ddstUse}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, dsrcUse}});
    if (e.blk.on) e.blk.fromOut.execute(strm(), dsrcUse, dsrc);
    strm().wait();
    lastImpl = e.impl;
    return undefinedValue(env);
  });
}

// conv2dBackpropFilter(x, dy, dw, geom)
napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    Geom g(intsArg(env, a[3], "conv2dBackpropFilter geometry", 17));
    F32 x = f32Arg(env, a[0], "conv2dBackpropFilter x"), dy = f32Arg(env, a[1], "conv2dBackpropFilter dy");
    F32 dw = f32Arg(env, a[2], "conv2dBackpropFilter dw");
    need(x, g.srcSize(), "conv2dBackpropFilter x");
    need(dy, g.dstSize(), "conv2dBackpropFilter dy");
    need(dw, g.weiSize(), "conv2dBackpropFilter dw");
    BwdWeiEntry& e = bwdWeiEntry(g);
    memory src(g.src(), eng(), x.data), ddst(g.dst(), eng(), dy.data);
    memory dwBlk(e.weiDesc, eng(), scratchWei.get(e.weiDesc.get_size()));
    e.prim.execute(strm(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dwBlk}});
    memory userW(g.wei(tag::hwio), eng(), dw.data);
    e.weiReorder.execute(strm(), dwBlk, userW);
    strm().wait();
    lastImpl = e.impl;
    return undefinedValue(env);
  });
}

// ---------------------------------------------------------------------------------------------
// matmul(a, b, c, dims Int32Array[batchA, batchB, M, N, K, transA, transB], bias|null, act, alpha)
// C[i] = op(A[i % batchA]) · op(B[i % batchB]) for i < max(batchA, batchB), row-major; optional
// bias of N values broadcast over rows, then the activation.
// ---------------------------------------------------------------------------------------------
float activate(float v, int act, float alpha) {
  switch (act) {
    case ACT_RELU: return v > 0.f ? v : 0.f;
    case ACT_LEAKY: return v > 0.f ? v : alpha * v;
    case ACT_SIGMOID: return 1.f / (1.f + std::exp(-v));
    case ACT_ELU: return v > 0.f ? v : std::expm1(v);
    case ACT_RELU6: return std::min(std::max(v, 0.f), 6.f);
    default: return v;
  }
}

napi_value MatMul(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 7);
    auto d = intsArg(env, a[3], "matMul dims", 7);
    const int64_t ba = d[0], bb = d[1], M = d[2], N = d[3], K = d[4];
    const bool ta = d[5] != 0, tb = d[6] != 0;
    if (ba < 1 || bb < 1 || M < 1 || N < 1 || K < 1) throw JsError("matMul: dimensions must be >= 1");
    if (ba != bb && ba != 1 && bb != 1) throw JsError("matMul: batch sizes must match or be 1");
    const int64_t batch = std::max(ba, bb);
    F32 A = f32Arg(env, a[0], "matMul a"), B = f32Arg(env, a[1], "matMul b"), C = f32Arg(env, a[2], "matMul c");
    F32 bias = f32Arg(env, a[4], "matMul bias", true);
    need(A, size_t(ba * M * K), "matMul a");
    need(B, size_t(bb * K * N), "matMul b");
    need(C, size_t(batch * M * N), "matMul c");
    if (bias.data) need(bias, size_t(N), "matMul bias");
    int act = int(numArg(env, a[5], "matMul activation"));
    float alpha = float(numArg(env, a[6], "matMul alpha"));
    for (int64_t i = 0; i < batch; i++) {
      const float* pa = A.data + (ba == 1 ? 0 : i) * M * K;
      const float* pb = B.data + (bb == 1 ? 0 : i) * K * N;
      float* pc = C.data + i * M * N;
      dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.f, pa, ta ? M : K, pb, tb ? K : N,
                                    0.f, pc, N);
      if (st != dnnl_success) throw JsError("matMul: dnnl_sgemm failed with status " + std::to_string(int(st)));
    }
    if (bias.data || act != ACT_LINEAR) {
      const int64_t rows = batch * M;
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < rows; r++) {
        float* row = C.data + r * N;
        for (int64_t j = 0; j < N; j++) row[j] = activate(row[j] + (bias.data ? bias.data[j] : 0.f), act, alpha);
      }
    }
    lastImpl = "dnnl_sgemm";
    return undefinedValue(env);
  });
}

// ---------------------------------------------------------------------------------------------
// Max pooling, NHWC, tfjs-cpu semantics: window pixels visited row-major, the first pixel strictly
// greater than the running max (start -inf) wins; windows with no such pixel output -inf and get
// no gradient. geom: [n,h,w,c, kh,kw, oh,ow, sh,sw, dh,dw, pt,pl]
// ---------------------------------------------------------------------------------------------
struct PoolGeom {
  int64_t n, h, w, c, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl;
  explicit PoolGeom(const std::vector<int64_t>& g)
      : n(g[0]), h(g[1]), w(g[2]), c(g[3]), kh(g[4]), kw(g[5]), oh(g[6]), ow(g[7]), sh(g[8]), sw(g[9]), dh(g[10]),
        dw(g[11]), pt(g[12]), pl(g[13]) {
    for (int64_t v : {n, h, w, c, kh, kw, oh, ow, sh, sw, dh, dw}) {
      if (v < 1) throw JsError("pool geometry: sizes, strides and dilations must be >= 1");
    }
  }
};

// Window range along one axis: first valid tap and the end (exclusive), stepping by dilation.
inline void windowRange(int64_t o, int64_t s, int64_t pad, int64_t k, int64_t d, int64_t in, int64_t& lo,
                        int64_t& hi) {
  const int64_t corner = o * s - pad;
  lo = corner;
  while (lo < 0) lo += d;
  hi = std::min(in, corner + (k - 1) * d + 1);
}

napi_value MaxPool(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 3);
    PoolGeom g(intsArg(env, a[2], "maxPool geometry", 14));
    F32 x = f32Arg(env, a[0], "maxPool x"), y = f32Arg(env, a[1], "maxPool output");
    need(x, size_t(g.n * g.h * g.w * g.c), "maxPool x");
    need(y, size_t(g.n * g.oh * g.ow * g.c), "maxPool output");
    const float ninf = -std::numeric_limits<float>::infinity();
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < g.n * g.oh; row++) {
      const int64_t b = row / g.oh, oy = row % g.oh;
      int64_t y0, y1;
      windowRange(oy, g.sh, g.pt, g.kh, g.dh, g.h, y0, y1);
      std::vector<float> acc(size_t(g.c));
      for (int64_t ox = 0; ox < g.ow; ox++) {
        int64_t x0, x1;
        windowRange(ox, g.sw, g.pl, g.kw, g.dw, g.w, x0, x1);
        std::fill(acc.begin(), acc.end(), ninf);
        for (int64_t iy = y0; iy < y1; iy += g.dh) {
          for (int64_t ix = x0; ix < x1; ix += g.dw) {
            const float* px = x.data + ((b * g.h + iy) * g.w + ix) * g.c;
            for (int64_t ch = 0; ch < g.c; ch++) acc[ch] = px[ch] > acc[ch] ? px[ch] : acc[ch];
          }
        }
        std::memcpy(y.data + ((b * g.oh + oy) * g.ow + ox) * g.c, acc.data(), size_t(g.c) * sizeof(float));
      }
    }
    return undefinedValue(env);
  });
}

// maxPoolGrad(dy, x, dx, geom): dx (zeroed here) gets dy at each window's first maximum.
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    PoolGeom g(intsArg(env, a[3], "maxPoolGrad geometry", 14));
    F32 dy = f32Arg(env, a[0], "maxPoolGrad dy"), x = f32Arg(env, a[1], "maxPoolGrad x");
    F32 dx = f32Arg(env, a[2], "maxPoolGrad dx");
    need(x, size_t(g.n * g.h * g.w * g.c), "maxPoolGrad x");
    need(dx, size_t(g.n * g.h * g.w * g.c), "maxPoolGrad dx");
    need(dy, size_t(g.n * g.oh * g.ow * g.c), "maxPoolGrad dy");
    std::memset(dx.data, 0, dx.length * sizeof(float));
    // Threads own disjoint channel ranges, so overlapping windows never race.
#pragma omp parallel
    {
      const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t c0 = g.c * t / nt, c1 = g.c * (t + 1) / nt;
      const float ninf = -std::numeric_limits<float>::infinity();
      for (int64_t b = 0; b < g.n && c1 > c0; b++) {
        for (int64_t oy = 0; oy < g.oh; oy++) {
          int64_t y0, y1;
          windowRange(oy, g.sh, g.pt, g.kh, g.dh, g.h, y0, y1);
          for (int64_t ox = 0; ox < g.ow; ox++) {
            int64_t x0, x1;
            windowRange(ox, g.sw, g.pl, g.kw, g.dw, g.w, x0, x1);
            const float* gy = dy.data + ((b * g.oh + oy) * g.ow + ox) * g.c;
            for (int64_t ch = c0; ch < c1; ch++) {
              float best = ninf;
              int64_t at = -1;
              for (int64_t iy = y0; iy < y1; iy += g.dh) {
                for (int64_t ix = x0; ix < x1; ix += g.dw) {
                  const int64_t idx = ((b * g.h + iy) * g.w + ix) * g.c + ch;
                  if (x.data[idx] > best) {
                    best = x.data[idx];
                    at = idx;
                  }
                }
              }
              if (at >= 0) dx.data[at] += gy[ch];
            }
          }
        }
      }
    }
    return undefinedValue(env);
  });
}

// ---------------------------------------------------------------------------------------------
// Elementwise ops and reductions (the optimiser and activation gradients of a training step are
// dozens of these per step; the cpu backend's JS loops were a third of the step). Op codes are
// shared with src/engine/native/elementwise.ts. Parallel over 2+ threads only for large arrays.
// ---------------------------------------------------------------------------------------------
constexpr int64_t kParallelMin = 1 << 17;

// BinOp, CmpOp, UnOp: op_codes.h (included above)

template <typename F>
void binaryLoop(const float* a, int64_t na, const float* b, int64_t nb, int64_t n, F f, float* out) {
  if (na == n && nb == n) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) out[i] = f(a[i], b[i]);
  } else if (na == n && nb == 1) {
    const float bv = b[0];
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) out[i] = f(a[i], bv);
  } else if (nb == n && na == 1) {
    const float av = a[0];
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) out[i] = f(av, b[i]);
  } else if (na == n) {  // b repeats along the leading axes (e.g. a bias over NHWC)
    const int64_t blocks = n / nb;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t k = 0; k < blocks; k++) {
      const float* pa = a + k * nb;
      float* po = out + k * nb;
      for (int64_t j = 0; j < nb; j++) po[j] = f(pa[j], b[j]);
    }
  } else {
    const int64_t blocks = n / na;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t k = 0; k < blocks; k++) {
      const float* pb = b + k * na;
      float* po = out + k * na;
      for (int64_t j = 0; j < na; j++) po[j] = f(a[j], pb[j]);
    }
  }
}

void checkBroadcast(int64_t na, int64_t nb, int64_t n, const char* what) {
  const bool ok = (na == n && nb >= 1 && n % nb == 0) || (nb == n && na >= 1 && n % na == 0);
  if (!ok) throw JsError(std::string(what) + ": operands must have the output size, or one a suffix of it");
}

// binary(op, a, b, out): out.length = n; a/b of n values, 1 value, or a divisor of n (a suffix).
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    const int op = int(numArg(env, a[0], "binary op"));
    F32 A = f32Arg(env, a[1], "binary a"), B = f32Arg(env, a[2], "binary b"), O = f32Arg(env, a[3], "binary out");
    const int64_t na = int64_t(A.length), nb = int64_t(B.length), n = int64_t(O.length);
    checkBroadcast(na, nb, n, "binary");
    switch (op) {
      case B_ADD: binaryLoop(A.data, na, B.data, nb, n, [](float x, float y) { return x + y; }, O.data); break;
      case B_SUB: binaryLoop(A.data, na, B.data, nb, n, [](float x, float y) { return x - y; }, O.data); break;
      case B_MUL: binaryLoop(A.data, na, B.data, nb, n, [](float x, float y) { return x * y; }, O.data); break;
      case B_DIV: binaryLoop(A.data, na, B.data, nb, n, [](float x, float y) { return x / y; }, O.data); break;
      case B_MAX:
        binaryLoop(A.data, na, B.data, nb, n, [](float x, float y) { return (std::isnan(x) || std::isnan(y)) ? NAN : std::max(x, y); }, O.data);
        break;
      case B_MIN:
        binaryLoop(A.data, na, B.data, nb, n, [](float x, float y) { return (std::isnan(x) || std::isnan(y)) ? NAN : std::min(x, y); }, O.data);
        break;
      case B_SQDIFF: binaryLoop(A.data, na, B.data, nb, n, [](float x, float y) { return (x - y) * (x - y); }, O.data); break;
      case B_POW: binaryLoop(A.data, na, B.data, nb, n, [](float x, float y) { return std::pow(x, y); }, O.data); break;
      default: throw JsError("binary: unknown op " + std::to_string(op));
    }
    return undefinedValue(env);
  });
}

// activationGrad(act, alpha, dy, x, out): the gradient of an activation given the upstream dy and
// the activation's input x (or, for ReLU, its output: same sign), in one pass instead of tfjs's
// two or three (step + mul; greater + mul + select). Same values as those: ReLU dy·step(x) (NaN
// where x is NaN), LeakyReLU x > 0 ? dy : alpha·dy.
napi_value ActivationGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 5);
    const int act = int(numArg(env, a[0], "activationGrad act"));
    const float alpha = float(numArg(env, a[1], "activationGrad alpha"));
    F32 dy = f32Arg(env, a[2], "activationGrad dy"), x = f32Arg(env, a[3], "activationGrad x"), out = f32Arg(env, a[4], "activationGrad out");
    const int64_t n = int64_t(out.length);
    need(dy, size_t(n), "activationGrad dy");
    need(x, size_t(n), "activationGrad x");
    const float* pd = dy.data;
    const float* px = x.data;
    float* po = out.data;
    if (act == ACT_RELU) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; i++) po[i] = std::isnan(px[i]) ? NAN : pd[i] * (px[i] > 0.f ? 1.f : 0.f);
    } else if (act == ACT_LEAKY) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; i++) po[i] = px[i] > 0.f ? pd[i] : pd[i] * alpha;
    } else {
      throw JsError("activationGrad: unsupported activation code " + std::to_string(act));
    }
    return undefinedValue(env);
  });
}

// adam(w, g, m, v, [lr, beta1, beta2, eps, c1, c2]): one Adam update in place, in double precision
// exactly as src/engine/parallel/adam.ts computes it (the build uses -ffp-contract=off, so no
// fused multiply-adds: the results are bit-identical to the JavaScript loop's).
//   m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  w <- w - lr (m/c1) / (sqrt(v/c2) + eps)
napi_value Adam(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 5);
    F32 w = f32Arg(env, a[0], "adam w"), g = f32Arg(env, a[1], "adam g"), m = f32Arg(env, a[2], "adam m"), v = f32Arg(env, a[3], "adam v");
    bool isTa = false;
    NAPI_OK(napi_is_typedarray(env, a[4], &isTa));
    napi_typedarray_type type;
    size_t len = 0;
    void* data = nullptr;
    napi_value ab;
    size_t offset;
    if (isTa) NAPI_OK(napi_get_typedarray_info(env, a[4], &type, &len, &data, &ab, &offset));
    if (!isTa || type != napi_float64_array || len != 6) throw JsError("adam hyper-parameters: expected a Float64Array of 6 values");
    const double* hp = static_cast<const double*>(data);
    const double lr = hp[0], b1 = hp[1], b2 = hp[2], eps = hp[3], c1 = hp[4], c2 = hp[5];
    const double a1 = 1 - b1, a2 = 1 - b2;
    const int64_t n = int64_t(w.length);
    need(g, size_t(n), "adam g");
    need(m, size_t(n), "adam m");
    need(v, size_t(n), "adam v");
    float* pw = w.data;
    const float* pg = g.data;
    float* pm = m.data;
    float* pv = v.data;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) {
      const double gi = pg[i];
      const double mi = b1 * double(pm[i]) + a1 * gi;
      const double vi = b2 * double(pv[i]) + a2 * gi * gi;
      pm[i] = float(mi);
      pv[i] = float(vi);
      pw[i] = float(double(pw[i]) - (lr * (mi / c1)) / (std::sqrt(vi / c2) + eps));
    }
    return undefinedValue(env);
  });
}

// clip(x, y, lo, hi): y = x > hi ? hi : (x < lo ? lo : x) (NaN passes through, as the cpu backend's ClipByValue).
napi_value Clip(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    F32 X = f32Arg(env, a[0], "clip x"), Y = f32Arg(env, a[1], "clip y");
    need(Y, X.length, "clip y");
    const float lo = float(numArg(env, a[2], "clip min")), hi = float(numArg(env, a[3], "clip max"));
    const int64_t n = int64_t(X.length);
    const float* x = X.data;
    float* y = Y.data;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > hi ? hi : (x[i] < lo ? lo : x[i]);
    return undefinedValue(env);
  });
}

std::vector<F32> f32ListArg(napi_env env, napi_value v, const char* what) {
  bool isArray = false;
  NAPI_OK(napi_is_array(env, v, &isArray));
  if (!isArray) throw JsError(std::string(what) + ": expected an array of Float32Arrays");
  uint32_t n = 0;
  NAPI_OK(napi_get_array_length(env, v, &n));
  std::vector<F32> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    NAPI_OK(napi_get_element(env, v, i, &e));
    out.push_back(f32Arg(env, e, what));
  }
  return out;
}

// addN(inputs[], out): out = the sum of the inputs (all of out's length), left to right as tfjs adds them.
napi_value AddN(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 2);
    auto xs = f32ListArg(env, a[0], "addN inputs");
    F32 out = f32Arg(env, a[1], "addN out");
    if (xs.empty()) throw JsError("addN: no inputs");
    for (const F32& x : xs) need(x, out.length, "addN input");
    const int64_t n = int64_t(out.length);
    const size_t k = xs.size();
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) {
      float acc = xs[0].data[i];
      for (size_t j = 1; j < k; j++) acc += xs[j].data[i];
      out.data[i] = acc;
    }
    return undefinedValue(env);
  });
}

// concat(inputs[], inner Int32Array (values per outer index of each input), outer, out): the inputs
// side by side along one axis (tfjs Concat on row-major data: outer = product of the dims before it).
napi_value Concat(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    auto xs = f32ListArg(env, a[0], "concat inputs");
    auto inner = intsArg(env, a[1], "concat inner", xs.size());
    const int64_t outer = int64_t(numArg(env, a[2], "concat outer"));
    F32 out = f32Arg(env, a[3], "concat out");
    int64_t row = 0;
    for (size_t i = 0; i < xs.size(); i++) {
      if (inner[i] < 0) throw JsError("concat: negative inner size");
      need(xs[i], size_t(outer * inner[i]), "concat input");
      row += inner[i];
    }
    need(out, size_t(outer * row), "concat out");
#pragma omp parallel for schedule(static) if (outer * row > kParallelMin)
    for (int64_t o = 0; o < outer; o++) {
      float* dst = out.data + o * row;
      for (size_t i = 0; i < xs.size(); i++) {
        const int64_t m = inner[i];
        const float* src = xs[i].data + o * m;
        if (m >= 16) std::memcpy(dst, src, size_t(m) * sizeof(float));
        else for (int64_t j = 0; j < m; j++) dst[j] = src[j];
        dst += m;
      }
    }
    return undefinedValue(env);
  });
}

// clipGrad(dy, x, out, lo, hi): the gradient of ClipByValue in one pass, as tfjs computes it in five
// (greaterEqual, lessEqual, logicalAnd, zerosLike, select): out = lo <= x <= hi ? dy : 0 (0 for NaN x).
napi_value ClipGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 5);
    F32 dy = f32Arg(env, a[0], "clipGrad dy"), x = f32Arg(env, a[1], "clipGrad x"), out = f32Arg(env, a[2], "clipGrad out");
    const float lo = float(numArg(env, a[3], "clipGrad min")), hi = float(numArg(env, a[4], "clipGrad max"));
    need(dy, out.length, "clipGrad dy");
    need(x, out.length, "clipGrad x");
    const int64_t n = int64_t(out.length);
    const float* pd = dy.data;
    const float* px = x.data;
    float* po = out.data;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) po[i] = (px[i] >= lo && px[i] <= hi) ? pd[i] : 0.f;
    return undefinedValue(env);
  });
}

// Per-channel monotone curves of the colour-transform generators: for x of [n, pixels, C] and slopes
// s of [n, C, K], y = sum_k clip(x - k/K, 0, 1/K) * s[k] (float, k in order: the same values as
// tfjs's ops computing it term by term), and its gradient in one pass:
//   dx = dy * sum_k s[k] * [0 <= x - k/K <= 1/K]   (ClipByValue's gradient is inclusive),
//   ds[k] = sum over pixels of dy * clip(x - k/K, 0, 1/K)   (accumulated in double).
struct CurveDims {
  int64_t n, p, c, k;
};
CurveDims curveDims(napi_env env, napi_value v) {
  auto d = intsArg(env, v, "curve dims", 4);
  for (int64_t x : d) if (x < 1) throw JsError("curve dims: sizes must be >= 1");
  return {d[0], d[1], d[2], d[3]};
}

// curve(x, s, y, dims [n, pixels, C, K])
napi_value Curve(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    F32 x = f32Arg(env, a[0], "curve x"), s = f32Arg(env, a[1], "curve slopes"), y = f32Arg(env, a[2], "curve y");
    const CurveDims d = curveDims(env, a[3]);
    need(x, size_t(d.n * d.p * d.c), "curve x");
    need(y, size_t(d.n * d.p * d.c), "curve y");
    need(s, size_t(d.n * d.c * d.k), "curve slopes");
    const float step = 1.f / float(d.k);
    const int64_t rows = d.n * d.p;
#pragma omp parallel for schedule(static) if (rows * d.c > kParallelMin)
    for (int64_t r = 0; r < rows; r++) {
      const float* sn = s.data + (r / d.p) * d.c * d.k;
      for (int64_t c = 0; c < d.c; c++) {
        const float v = x.data[r * d.c + c];
        float acc = 0.f;
        for (int64_t k = 0; k < d.k; k++) {
          const float seg = std::min(std::max(v - float(k) / float(d.k), 0.f), step);
          acc = acc + seg * sn[c * d.k + k];
        }
        y.data[r * d.c + c] = acc;
      }
    }
    return undefinedValue(env);
  });
}

// curveGrad(dy, x, s, dx, ds, dims [n, pixels, C, K])
napi_value CurveGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 6);
    F32 dy = f32Arg(env, a[0], "curveGrad dy"), x = f32Arg(env, a[1], "curveGrad x"), s = f32Arg(env, a[2], "curveGrad slopes");
    F32 dx = f32Arg(env, a[3], "curveGrad dx"), ds = f32Arg(env, a[4], "curveGrad dslopes");
    const CurveDims d = curveDims(env, a[5]);
    const size_t nx = size_t(d.n * d.p * d.c), ns = size_t(d.n * d.c * d.k);
    need(dy, nx, "curveGrad dy");
    need(x, nx, "curveGrad x");
    need(dx, nx, "curveGrad dx");
    need(s, ns, "curveGrad slopes");
    need(ds, ns, "curveGrad dslopes");
    const float step = 1.f / float(d.k);
    // one task per (image, channel): its slope sums stay in one thread (no atomics), pixels in order
#pragma omp parallel for schedule(static) if (int64_t(nx) > kParallelMin)
    for (int64_t nc = 0; nc < d.n * d.c; nc++) {
      const int64_t b = nc / d.c, c = nc % d.c;
      const float* sn = s.data + (b * d.c + c) * d.k;
      std::vector<double> acc(size_t(d.k), 0.0);
      for (int64_t p = 0; p < d.p; p++) {
        const int64_t i = (b * d.p + p) * d.c + c;
        const float v = x.data[i], g = dy.data[i];
        float gx = 0.f;
        for (int64_t k = 0; k < d.k; k++) {
          const float t = v - float(k) / float(d.k);
          const float seg = std::min(std::max(t, 0.f), step);
          acc[size_t(k)] += double(g * seg);
          if (t >= 0.f && t <= step) gx = gx + g * sn[k];
        }
        dx.data[i] = gx;
      }
      for (int64_t k = 0; k < d.k; k++) ds.data[(b * d.c + c) * d.k + k] = float(acc[size_t(k)]);
    }
    return undefinedValue(env);
  });
}

// ---------------------------------------------------------------------------------------------
// The colour transform of the `global` generator (src/models/color-transform.ts applyColorTransform)
// as one pass per pixel, forward and backward, for training. theta [n, 3K + 13] per image: K log-slopes
// per channel, the 3x3 affine delta (row-major), 3 offsets and the gate logit; x [n, pixels, 4] is
// RGB + mask. Float arithmetic in the order tfjs's ops use (the matmul's 3-term sum in double, as the
// cpu backend's), so the forward matches the term-by-term ops to float rounding:
//   s = exp(clip(log-slope, -4, 4)), c = curves(rgb), o = c + c*dA^T + b, g = sigmoid(gate logit),
//   t = rgb + g*(o - rgb), v = clip(t, 0, 1), y = rgb + m*(v - rgb).
// ---------------------------------------------------------------------------------------------
struct ApplyDims {
  int64_t n, p, k;
};
ApplyDims applyDims(napi_env env, napi_value v) {
  auto d = intsArg(env, v, "colorApply dims", 3);
  for (int64_t x : d) if (x < 1) throw JsError("colorApply dims: sizes must be >= 1");
  return {d[0], d[1], d[2]};
}

// The per-image constants derived from theta (float, as tfjs computes them).
struct ApplyTheta {
  float s[3][32];
  float pre[3][33];  // pre[c][j]: the curve loop's float sum over the first j (full) segments, in order
  float a[9], b[3], g, thetaGate;
  bool sIn[3][32];  // -4 <= log-slope <= 4 (ClipByValue passes the gradient)
};
void applyTheta(const float* th, int64_t K, ApplyTheta& t) {
  for (int64_t c = 0; c < 3; c++) {
    for (int64_t k = 0; k < K; k++) {
      const float v = th[c * K + k];
      const float cl = v > 4.f ? 4.f : (v < -4.f ? -4.f : v);
      t.s[c][k] = float(std::exp(double(cl)));
      t.sIn[c][k] = v >= -4.f && v <= 4.f;
    }
    const float step = 1.f / float(K);
    float acc = 0.f;
    t.pre[c][0] = 0.f;
    for (int64_t k = 0; k < K; k++) {
      acc = acc + step * t.s[c][k];
      t.pre[c][k + 1] = acc;
    }
  }
  for (int i = 0; i < 9; i++) t.a[i] = th[3 * K + i];
  for (int i = 0; i < 3; i++) t.b[i] = th[3 * K + 9 + i];
  t.thetaGate = th[3 * K + 12];
  t.g = float(1.0 / (1.0 + std::exp(-double(t.thetaGate))));
}

// Knots k/K as floats (tfjs subtracts the float k/K), computed once per call.
struct Knots {
  float at[32];
  float step;
  explicit Knots(int64_t K) : step(1.f / float(K)) {
    for (int64_t k = 0; k < K && k < 32; k++) at[k] = float(k) / float(K);
  }
};

// KT > 0: the number of knots known at compile time (the generators use 8); 0: K at run time.
// The segment of v for a power-of-two KT: j = floor(v*KT) clamped to [0, KT-1] (v*KT is exact); -1 when
// v is negative, NaN or huge (the plain loop then). For 0 <= v, k/KT <= v exactly for k <= j, so the
// loop's terms are step*s[k] for k < j, its partial term at j, and exact zeros after.
template <int KT>
inline int segmentOf(float v) {
  if (!(v >= 0.f && v <= 1e30f)) return -1;
  const float f = std::floor(v * float(KT));
  return f > float(KT - 1) ? KT - 1 : int(f);
}

template <int KT>
inline float curveValue(float v, const float* s, const Knots& kn, int64_t Kr, const float* pre) {
  if (KT > 0 && (KT & (KT - 1)) == 0) {
    const int j = segmentOf<KT>(v);
    // prefix + partial: the same float operations, in the same order, as the loop below
    if (j >= 0) return pre[j] + std::min(std::max(v - kn.at[j], 0.f), kn.step) * s[j];
  }
  const int64_t K = KT > 0 ? KT : Kr;
  float acc = 0.f;
  for (int64_t k = 0; k < K; k++) {
    const float seg = std::min(std::max(v - kn.at[k], 0.f), kn.step);
    acc = acc + seg * s[k];
  }
  return acc;
}

// The forward pass of one pixel: curved c, affine o, pre-clip t, clipped v, output y.
struct ApplyPixel {
  float c[3], o[3], t[3], v[3], y[3];
};
template <int KT>
inline void applyPixel(const float* px, const ApplyTheta& th, const Knots& kn, int64_t K, ApplyPixel& r) {
  for (int c = 0; c < 3; c++) r.c[c] = curveValue<KT>(px[c], th.s[c], kn, K, th.pre[c]);
  for (int c = 0; c < 3; c++) {
    const float mm = float(double(r.c[0]) * double(th.a[c * 3]) + double(r.c[1]) * double(th.a[c * 3 + 1]) + double(r.c[2]) * double(th.a[c * 3 + 2]));
    r.o[c] = (r.c[c] + mm) + th.b[c];
  }
  const float m = px[3];
  for (int c = 0; c < 3; c++) {
    const float x = px[c];
    r.t[c] = x + th.g * (r.o[c] - x);
    const float t = r.t[c];
    r.v[c] = t > 1.f ? 1.f : (t < 0.f ? 0.f : t);
    r.y[c] = x + m * (r.v[c] - x);
  }
}

template <int KT>
void colorApplyRows(const float* X, const std::vector<ApplyTheta>& th, float* Y, int64_t rows, int64_t P, int64_t K) {
  const Knots kn(K);
#pragma omp parallel for schedule(static) if (rows * 3 > kParallelMin)
  for (int64_t r = 0; r < rows; r++) {
    ApplyPixel px;
    applyPixel<KT>(X + r * 4, th[size_t(r / P)], kn, K, px);
    float* y = Y + r * 3;
    y[0] = px.y[0];
    y[1] = px.y[1];
    y[2] = px.y[2];
  }
}

// colorApply(x [n,p,4], theta [n,3K+13], y [n,p,3], dims [n, p, K])
napi_value ColorApply(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    F32 X = f32Arg(env, a[0], "colorApply x"), T = f32Arg(env, a[1], "colorApply theta"), Y = f32Arg(env, a[2], "colorApply y");
    const ApplyDims d = applyDims(env, a[3]);
    if (d.k > 32) throw JsError("colorApply: at most 32 knots");
    const int64_t P = 3 * d.k + 13;
    need(X, size_t(d.n * d.p * 4), "colorApply x");
    need(T, size_t(d.n * P), "colorApply theta");
    need(Y, size_t(d.n * d.p * 3), "colorApply y");
    std::vector<ApplyTheta> th(size_t(d.n));
    for (int64_t b = 0; b < d.n; b++) applyTheta(T.data + b * P, d.k, th[size_t(b)]);
    if (d.k == 8) colorApplyRows<8>(X.data, th, Y.data, d.n * d.p, d.p, d.k);
    else colorApplyRows<0>(X.data, th, Y.data, d.n * d.p, d.p, d.k);
    return undefinedValue(env);
  });
}

// The backward pass over pixels [p0, p1) of image b: dx (when asked) and the block's theta sums in
// `ac` (when asked): [3K slope sums (d/ds), 9 dA, 3 db, 1 dg], accumulated in double locally.
template <int KT>
void colorApplyGradBlock(const float* DY, const float* X, const ApplyTheta& t, const Knots& kn, int64_t K, int64_t r0, int64_t r1,
                         float* DX, double* ac) {
  const int64_t nAcc = 3 * K + 13;
  double loc[3 * 32 + 13], full[3][33];
  for (int64_t i = 0; i < nAcc; i++) loc[i] = 0.0;
  for (int c = 0; c < 3; c++) for (int k = 0; k < 33; k++) full[c][k] = 0.0;
  for (int64_t r = r0; r < r1; r++) {
    const float* px = X + r * 4;
    const float* dy = DY + r * 3;
    ApplyPixel f;
    applyPixel<KT>(px, t, kn, K, f);
    const float m = px[3];
    float dm = 0.f, dRgb[3], dOut[3];
    for (int c = 0; c < 3; c++) {
      const float x = px[c];
      // y = x + m*(v - x)
      const float dv = dy[c] * m;
      dm = dm + dy[c] * (f.v[c] - x);
      dRgb[c] = dy[c] - dv;
      // v = clip(t, 0, 1); t = x + g*(o - x)
      const float dt = (f.t[c] >= 0.f && f.t[c] <= 1.f) ? dv : 0.f;
      dOut[c] = dt * t.g;
      dRgb[c] = dRgb[c] + (dt - dOut[c]);
      loc[3 * K + 12] += double(dt) * double(f.o[c] - x);
    }
    // o = c + c*dA^T + b
    float dCurved[3];
    for (int j = 0; j < 3; j++) {
      dCurved[j] = float(double(dOut[j]) + (double(dOut[0]) * double(t.a[j]) + double(dOut[1]) * double(t.a[3 + j]) + double(dOut[2]) * double(t.a[6 + j])));
    }
    for (int c = 0; c < 3; c++) {
      loc[3 * K + 9 + c] += double(dOut[c]);
      for (int j = 0; j < 3; j++) loc[3 * K + c * 3 + j] += double(dOut[c]) * double(f.c[j]);
    }
    // curves: d/ds_k += g * seg_k; dx += g * sum of s_k where 0 <= x - k/K <= 1/K (inclusive, as ClipByValue's gradient)
    const int64_t KK = KT > 0 ? KT : K;
    for (int c = 0; c < 3; c++) {
      const float v = px[c], g = dCurved[c];
      float gx = 0.f;
      const int j = (KT > 0 && (KT & (KT - 1)) == 0) ? segmentOf<KT>(v) : -1;
      if (j >= 0) {
        // k < j: full segments (seg = step), counted once here and spread over k < j at the end
        full[c][j] += double(g);
        const float tt = v - kn.at[j];
        const float seg = std::min(std::max(tt, 0.f), kn.step);
        loc[c * KK + j] += double(g * seg);
        if (j > 0 && tt == 0.f) gx = gx + g * t.s[c][j - 1];  // v on knot j: segment j-1 ends there (tt = step)
        if (tt >= 0.f && tt <= kn.step) gx = gx + g * t.s[c][j];
      } else {
        for (int64_t k = 0; k < KK; k++) {
          const float tt = v - kn.at[k];
          const float seg = std::min(std::max(tt, 0.f), kn.step);
          loc[c * KK + k] += double(g * seg);
          if (tt >= 0.f && tt <= kn.step) gx = gx + g * t.s[c][k];
        }
      }
      dRgb[c] = dRgb[c] + gx;
    }
    if (DX) {
      float* dx = DX + r * 4;
      dx[0] = dRgb[0];
      dx[1] = dRgb[1];
      dx[2] = dRgb[2];
      dx[3] = dm;
    }
  }
  // full[c][j] counted g for every k < j: add step * (sum over j > k) to slope k
  for (int c = 0; c < 3; c++) {
    double above = 0.0;
    for (int64_t k = K - 1; k >= 0; k--) {
      above += full[c][k + 1];
      loc[c * K + k] += above * double(kn.step);
    }
  }
  if (ac) for (int64_t i = 0; i < nAcc; i++) ac[i] = loc[i];
}

// colorApplyGrad(dy [n,p,3], x, theta, dtheta [n,3K+13] | null, dx [n,p,4] | null, dims): the gradients
// of sum(y * dy) w.r.t. theta (accumulated in double over fixed blocks of pixels, then summed in
// block order: the same result for any thread count) and w.r.t. x (RGB and mask), in one pass.
napi_value ColorApplyGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 6);
    F32 DY = f32Arg(env, a[0], "colorApplyGrad dy"), X = f32Arg(env, a[1], "colorApplyGrad x"), T = f32Arg(env, a[2], "colorApplyGrad theta");
    F32 DT = f32Arg(env, a[3], "colorApplyGrad dtheta", true), DX = f32Arg(env, a[4], "colorApplyGrad dx", true);
    const ApplyDims d = applyDims(env, a[5]);
    if (d.k > 32) throw JsError("colorApply: at most 32 knots");
    const int64_t K = d.k, P = 3 * K + 13;
    need(DY, size_t(d.n * d.p * 3), "colorApplyGrad dy");
    need(X, size_t(d.n * d.p * 4), "colorApplyGrad x");
    need(T, size_t(d.n * P), "colorApplyGrad theta");
    if (DT.data) need(DT, size_t(d.n * P), "colorApplyGrad dtheta");
    if (DX.data) need(DX, size_t(d.n * d.p * 4), "colorApplyGrad dx");
    std::vector<ApplyTheta> th(size_t(d.n));
    for (int64_t b = 0; b < d.n; b++) applyTheta(T.data + b * P, K, th[size_t(b)]);
    const Knots kn(K);
    const int64_t block = 2048, perImage = (d.p + block - 1) / block, blocks = d.n * perImage;
    const int64_t nAcc = 3 * K + 13;
    std::vector<double> acc(DT.data ? size_t(blocks * nAcc) : 0, 0.0);
#pragma omp parallel for schedule(static) if (d.n * d.p * 3 > kParallelMin / 4)
    for (int64_t bl = 0; bl < blocks; bl++) {
      const int64_t b = bl / perImage, p0 = (bl % perImage) * block, p1 = std::min(d.p, p0 + block);
      double* ac = DT.data ? acc.data() + bl * nAcc : nullptr;
      if (K == 8) colorApplyGradBlock<8>(DY.data, X.data, th[size_t(b)], kn, K, b * d.p + p0, b * d.p + p1, DX.data, ac);
      else colorApplyGradBlock<0>(DY.data, X.data, th[size_t(b)], kn, K, b * d.p + p0, b * d.p + p1, DX.data, ac);
    }
    if (DT.data) {
      for (int64_t b = 0; b < d.n; b++) {
        const ApplyTheta& t = th[size_t(b)];
        float* out = DT.data + b * P;
        std::vector<double> sum(size_t(nAcc), 0.0);
        for (int64_t q = 0; q < perImage; q++) {
          const double* ac = acc.data() + (b * perImage + q) * nAcc;
          for (int64_t i = 0; i < nAcc; i++) sum[size_t(i)] += ac[i];
        }
        for (int64_t c = 0; c < 3; c++) {
          for (int64_t k = 0; k < K; k++) {
            // s = exp(clip(θ)): ds/dθ = s where -4 <= θ <= 4
            out[c * K + k] = t.sIn[c][k] ? float(sum[size_t(c * K + k)] * double(t.s[c][k])) : 0.f;
          }
        }
        for (int i = 0; i < 12; i++) out[3 * K + i] = float(sum[size_t(3 * K + i)]);
        out[3 * K + 12] = float(sum[size_t(3 * K + 12)] * double(t.g) * (1.0 - double(t.g)));
      }
    }
    return undefinedValue(env);
  });
}

// ---------------------------------------------------------------------------------------------
// The same transform at full resolution for inference (src/models/color-transform-apply.ts
// applyColorTransformArrays), in double precision, operation for operation as the JavaScript loop
// (built with -ffp-contract=off: no fused multiply-adds), so the outputs are bit-identical. The
// curves use prefix sums: with x in segment j (j/K <= x <= (j+1)/K), the loop's sum is exactly
// prefix[j] + seg_j * s_j (the earlier segments add 1/K * s_k in order, the later ones add 0).
//   coef: [3K slopes (float-rounded), 3(K+1) prefix sums, 9 dA, 3 b, gate]; rgb [h,w,3], mask [h,w]
//   field (pct, or null): [fh, fw, 12] with the bilinear taps ix [4*w: x0, x1] / iy and fx [w] / fy [h].
// Every pixel of out is written (those whose mask is not > 0 get rgb's values): one pass, the output's
// pages first touched by the thread that writes them.
// ---------------------------------------------------------------------------------------------

const int32_t* i32Arg(napi_env env, napi_value v, const char* what, size_t want) {
  bool isTa = false;
  NAPI_OK(napi_is_typedarray(env, v, &isTa));
  if (!isTa) throw JsError(std::string(what) + ": expected an Int32Array");
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value ab;
  size_t offset;
  NAPI_OK(napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset));
  if (type != napi_int32_array || length != want) throw JsError(std::string(what) + ": expected an Int32Array of " + std::to_string(want) + " values");
  return static_cast<const int32_t*>(data);
}

inline double jsMin(double a, double b) { return (a != a || b != b) ? NAN : (a < b ? a : (b < a ? b : (std::signbit(a) ? a : b))); }
inline double jsMax(double a, double b) { return (a != a || b != b) ? NAN : (a > b ? a : (b > a ? b : (std::signbit(a) ? b : a))); }

// colorApplyImage(rgb, mask, out, dims [w, h, K, fw, fh], coef Float64Array, field | null, ix Int32Array | null, iy | null, fx | null, fy | null)
napi_value ColorApplyImage(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 10);
    F32 RGB = f32Arg(env, a[0], "colorApplyImage rgb"), M = f32Arg(env, a[1], "colorApplyImage mask"), O = f32Arg(env, a[2], "colorApplyImage out");
    auto dims = intsArg(env, a[3], "colorApplyImage dims", 5);
    const int64_t w = dims[0], h = dims[1], K = dims[2], fw = dims[3], fh = dims[4];
    if (w < 1 || h < 1 || K < 1 || K > 32 || (K & (K - 1)) != 0) throw JsError("colorApplyImage: bad dims (K must be a power of two <= 32)");
    need(RGB, size_t(w * h * 3), "colorApplyImage rgb");
    need(M, size_t(w * h), "colorApplyImage mask");
    need(O, size_t(w * h * 3), "colorApplyImage out");
    bool isTa = false;
    NAPI_OK(napi_is_typedarray(env, a[4], &isTa));
    if (!isTa) throw JsError("colorApplyImage coef: expected a Float64Array");
    napi_typedarray_type ct;
    size_t clen;
    void* cdata;
    napi_value cab;
    size_t coff;
    NAPI_OK(napi_get_typedarray_info(env, a[4], &ct, &clen, &cdata, &cab, &coff));
    if (ct != napi_float64_array || clen != size_t(3 * K + 3 * (K + 1) + 13)) throw JsError("colorApplyImage coef: expected a Float64Array of 6K + 16 values");
    const double* coef = static_cast<const double*>(cdata);
    const double* slope = coef;
    const double* prefix = coef + 3 * K;
    const double* A = prefix + 3 * (K + 1);
    const double* B = A + 9;
    const double gate = B[3];
    F32 FIELD = f32Arg(env, a[5], "colorApplyImage field", true);
    const int32_t *ix = nullptr, *iy = nullptr;
    F32 FX, FY;
    if (FIELD.data) {
      if (fw < 1 || fh < 1) throw JsError("colorApplyImage: bad field size");
      need(FIELD, size_t(fw * fh * 12), "colorApplyImage field");
      ix = i32Arg(env, a[6], "colorApplyImage ix", size_t(2 * w));
      iy = i32Arg(env, a[7], "colorApplyImage iy", size_t(2 * h));
      FX = f32Arg(env, a[8], "colorApplyImage fx");
      FY = f32Arg(env, a[9], "colorApplyImage fy");
      need(FX, size_t(w), "colorApplyImage fx");
      need(FY, size_t(h), "colorApplyImage fy");
      for (int64_t i = 0; i < 2 * w; i++) if (ix[i] < 0 || ix[i] >= fw) throw JsError("colorApplyImage ix: out of range");
      for (int64_t i = 0; i < 2 * h; i++) if (iy[i] < 0 || iy[i] >= fh) throw JsError("colorApplyImage iy: out of range");
    }
    const double invK = 1.0 / double(K);
    const float* rgb = RGB.data;
    const float* mask = M.data;
    float* out = O.data;
    const float* field = FIELD.data;
#pragma omp parallel for schedule(static) if (w * h > (1 << 16))
    for (int64_t py = 0; py < h; py++) {
      double fv[12];
      for (int64_t px = 0; px < w; px++) {
        const int64_t pi = py * w + px;
        const double m = mask[pi];
        const int64_t o = pi * 3;
        if (!(m > 0)) {
          out[o] = rgb[o];
          out[o + 1] = rgb[o + 1];
          out[o + 2] = rgb[o + 2];
          continue;
        }
        double y[3];
        for (int c = 0; c < 3; c++) {
          const double x = rgb[o + c];
          if (x >= 0 && x <= 1e30) {
            double jd = std::floor(x * double(K));
            if (jd > double(K - 1)) jd = double(K - 1);
            const int64_t j = int64_t(jd);
            // d = x - j/K >= 0 exactly (+0 on a knot), so Math.min(Math.max(d, 0), 1/K) is this
            const double dd = x - double(j) * invK;  // j/K: exact, K a power of two
            const double seg = dd < invK ? dd : invK;
            y[c] = prefix[c * (K + 1) + j] + seg * slope[c * K + j];
          } else {
            double acc = 0;
            for (int64_t k = 0; k < K; k++) acc += jsMin(jsMax(x - double(k) / double(K), 0), invK) * slope[c * K + k];
            y[c] = acc;
          }
        }
        if (field) {
          const int64_t x0 = ix[px], x1 = ix[w + px], y0 = iy[py], y1 = iy[h + py];
          const double fx = FX.data[px], fy = FY.data[py];
          for (int k = 0; k < 12; k++) {
            const double a00 = field[(y0 * fw + x0) * 12 + k], a01 = field[(y0 * fw + x1) * 12 + k];
            const double a10 = field[(y1 * fw + x0) * 12 + k], a11 = field[(y1 * fw + x1) * 12 + k];
            const double top = a00 + (a01 - a00) * fx, bot = a10 + (a11 - a10) * fx;
            fv[k] = double(float(top + (bot - top) * fy));
          }
        }
        for (int c = 0; c < 3; c++) {
          double v = y[c] + A[c * 3] * y[0] + A[c * 3 + 1] * y[1] + A[c * 3 + 2] * y[2] + B[c];
          if (field) v += fv[c * 3] * y[0] + fv[c * 3 + 1] * y[1] + fv[c * 3 + 2] * y[2] + fv[9 + c];
          const double x = rgb[o + c];
          // Math.min(1, Math.max(0, t)): NaN stays NaN, -0 becomes +0
          const double t = x + gate * (v - x);
          const double moved = t != t ? t : (t > 1 ? 1.0 : (t <= 0 ? 0.0 : t));
          out[o + c] = float(x + m * (moved - x));
        }
      }
    }
    return undefinedValue(env);
  });
}

uint8_t* u8Arg(napi_env env, napi_value v, const char* what, size_t& length) {
  bool isTa = false;
  NAPI_OK(napi_is_typedarray(env, v, &isTa));
  if (!isTa) throw JsError(std::string(what) + ": expected a Uint8Array");
  napi_typedarray_type type;
  void* data;
  napi_value ab;
  size_t offset;
  NAPI_OK(napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset));
  if (type != napi_uint8_array) throw JsError(std::string(what) + ": expected a Uint8Array");
  return static_cast<uint8_t*>(data);
}

// compare(op, a, b, out Uint8Array): 1 where the comparison holds (same broadcasting as binary).
napi_value Compare(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    const int op = int(numArg(env, a[0], "compare op"));
    F32 A = f32Arg(env, a[1], "compare a"), B = f32Arg(env, a[2], "compare b");
    size_t n = 0;
    uint8_t* O = u8Arg(env, a[3], "compare out", n);
    const int64_t na = int64_t(A.length), nb = int64_t(B.length);
    checkBroadcast(na, nb, int64_t(n), "compare");
#pragma omp parallel for schedule(static) if (int64_t(n) > kParallelMin)
    for (int64_t i = 0; i < int64_t(n); i++) {
      const float x = A.data[na == int64_t(n) ? i : i % na], y = B.data[nb == int64_t(n) ? i : i % nb];
      bool r;
      switch (op) {
        case C_GREATER: r = x > y; break;
        case C_GREATER_EQ: r = x >= y; break;
        case C_LESS: r = x < y; break;
        case C_LESS_EQ: r = x <= y; break;
        case C_EQUAL: r = x == y; break;
        default: r = x != y; break;
      }
      O[i] = r ? 1 : 0;
    }
    return undefinedValue(env);
  });
}

// General broadcasting: out has dims[0..rank), a and b are read with per-dimension strides (0 on
// broadcast dimensions). Parallel over rows (all dimensions but the last).
template <typename T, typename F>
void stridedLoop(const float* a, const float* b, T* out, const std::vector<int64_t>& dims,
                 const std::vector<int64_t>& as, const std::vector<int64_t>& bs, F f) {
  const int64_t rank = int64_t(dims.size());
  const int64_t inner = dims[size_t(rank - 1)], sa = as[size_t(rank - 1)], sb = bs[size_t(rank - 1)];
  int64_t rows = 1;
  for (int64_t d = 0; d < rank - 1; d++) rows *= dims[size_t(d)];
  // Each thread takes a contiguous run of rows: the row's operand offsets are computed by division
  // once, then advanced like an odometer (rows are often tiny: 3 channels of an NHWC image).
#pragma omp parallel if (rows * inner > kParallelMin)
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    std::vector<int64_t> idx(size_t(std::max<int64_t>(rank - 1, 1)), 0);
    int64_t oa = 0, ob = 0;
    {
      int64_t rem = r0;
      for (int64_t d = rank - 2; d >= 0; d--) {
        const int64_t i = rem % dims[size_t(d)];
        rem /= dims[size_t(d)];
        idx[size_t(d)] = i;
        oa += i * as[size_t(d)];
        ob += i * bs[size_t(d)];
      }
    }
    for (int64_t r = r0; r < r1; r++) {
      const float* pa = a + oa;
      const float* pb = b + ob;
      T* po = out + r * inner;
      for (int64_t j = 0; j < inner; j++) po[j] = T(f(pa[j * sa], pb[j * sb]));
      for (int64_t d = rank - 2; d >= 0; d--) {  // next row
        oa += as[size_t(d)];
        ob += bs[size_t(d)];
        if (++idx[size_t(d)] < dims[size_t(d)]) break;
        oa -= dims[size_t(d)] * as[size_t(d)];
        ob -= dims[size_t(d)] * bs[size_t(d)];
        idx[size_t(d)] = 0;
      }
    }
  }
}

template <typename T>
void dispatchStrided(int op, bool cmp, const float* a, const float* b, T* out, const std::vector<int64_t>& dims,
                     const std::vector<int64_t>& as, const std::vector<int64_t>& bs) {
  if (!cmp) {
    switch (op) {
      case B_ADD: stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return x + y; }); return;
      case B_SUB: stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return x - y; }); return;
      case B_MUL: stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return x * y; }); return;
      case B_DIV: stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return x / y; }); return;
      case B_MAX:
        stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return (std::isnan(x) || std::isnan(y)) ? NAN : std::max(x, y); });
        return;
      case B_MIN:
        stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return (std::isnan(x) || std::isnan(y)) ? NAN : std::min(x, y); });
        return;
      case B_SQDIFF: stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return (x - y) * (x - y); }); return;
      default: throw JsError("binaryStrided: unknown op " + std::to_string(op));
    }
  }
  switch (op) {
    case C_GREATER: stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return x > y; }); return;
    case C_GREATER_EQ: stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return x >= y; }); return;
    case C_LESS: stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return x < y; }); return;
    case C_LESS_EQ: stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return x <= y; }); return;
    case C_EQUAL: stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return x == y; }); return;
    case C_NOT_EQUAL: stridedLoop(a, b, out, dims, as, bs, [](float x, float y) { return x != y; }); return;
    default: throw JsError("compareStrided: unknown op " + std::to_string(op));
  }
}

// binaryStrided(op, isCompare, a, b, out, dims Int32Array, aStrides Int32Array, bStrides Int32Array)
napi_value BinaryStrided(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 8);
    const int op = int(numArg(env, a[0], "binaryStrided op"));
    bool cmp = false;
    NAPI_OK(napi_get_value_bool(env, a[1], &cmp));
    F32 A = f32Arg(env, a[2], "binaryStrided a"), B = f32Arg(env, a[3], "binaryStrided b");
    bool isTa = false;
    NAPI_OK(napi_is_typedarray(env, a[5], &isTa));
    uint32_t rank = 0;
    {
      napi_typedarray_type t;
      size_t len;
      void* d;
      napi_value ab;
      size_t off;
      if (!isTa) throw JsError("binaryStrided dims: expected an Int32Array");
      NAPI_OK(napi_get_typedarray_info(env, a[5], &t, &len, &d, &ab, &off));
      rank = uint32_t(len);
    }
    if (rank < 1 || rank > 8) throw JsError("binaryStrided: rank must be 1..8");
    auto dims = intsArg(env, a[5], "binaryStrided dims", rank);
    auto as = intsArg(env, a[6], "binaryStrided a strides", rank), bs = intsArg(env, a[7], "binaryStrided b strides", rank);
    int64_t n = 1, lastA = 0, lastB = 0;
    for (uint32_t d = 0; d < rank; d++) {
      if (dims[d] < 1 || as[d] < 0 || bs[d] < 0) throw JsError("binaryStrided: bad dims or strides");
      n *= dims[d];
      lastA += (dims[d] - 1) * as[d];
      lastB += (dims[d] - 1) * bs[d];
    }
    if (lastA >= int64_t(A.length) || lastB >= int64_t(B.length)) throw JsError("binaryStrided: strides reach past an operand");
    if (cmp) {
      size_t no = 0;
      uint8_t* O = u8Arg(env, a[4], "compareStrided out", no);
      if (int64_t(no) != n) throw JsError("compareStrided out: wrong length");
      dispatchStrided<uint8_t>(op, true, A.data, B.data, O, dims, as, bs);
    } else {
      F32 O = f32Arg(env, a[4], "binaryStrided out");
      need(O, size_t(n), "binaryStrided out");
      dispatchStrided<float>(op, false, A.data, B.data, O.data, dims, as, bs);
    }
    return undefinedValue(env);
  });
}

template <typename F>
void unaryLoop(const float* x, float* y, int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = f(x[i]);
}

// unary(op, x, y, alpha): y = f(x), same length. NaN handling follows the cpu backend.
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    const int op = int(numArg(env, a[0], "unary op"));
    F32 X = f32Arg(env, a[1], "unary x"), Y = f32Arg(env, a[2], "unary y");
    const float alpha = float(numArg(env, a[3], "unary alpha"));
    need(Y, X.length, "unary y");
    const int64_t n = int64_t(X.length);
    const float* x = X.data;
    float* y = Y.data;
    switch (op) {
      case U_RELU: unaryLoop(x, y, n, [](float v) { return std::isnan(v) ? v : (v > 0.f ? v : 0.f); }); break;
      case U_LEAKY: unaryLoop(x, y, n, [alpha](float v) { return v < 0.f ? alpha * v : v; }); break;
      case U_STEP: unaryLoop(x, y, n, [alpha](float v) { return std::isnan(v) ? NAN : (v > 0.f ? 1.f : alpha); }); break;
      case U_SIGMOID: unaryLoop(x, y, n, [](float v) { return float(1.0 / (1.0 + std::exp(-double(v)))); }); break;
      case U_ABS: unaryLoop(x, y, n, [](float v) { return std::fabs(v); }); break;
      case U_SQRT: unaryLoop(x, y, n, [](float v) { return std::sqrt(v); }); break;
      case U_SQUARE: unaryLoop(x, y, n, [](float v) { return v * v; }); break;
      case U_NEG: unaryLoop(x, y, n, [](float v) { return -v; }); break;
      case U_EXP: unaryLoop(x, y, n, [](float v) { return float(std::exp(double(v))); }); break;
      case U_LOG: unaryLoop(x, y, n, [](float v) { return float(std::log(double(v))); }); break;
      case U_LOG1P: unaryLoop(x, y, n, [](float v) { return float(std::log1p(double(v))); }); break;
      case U_TANH: unaryLoop(x, y, n, [](float v) { return float(std::tanh(double(v))); }); break;
      case U_SIGN: unaryLoop(x, y, n, [](float v) { return std::isnan(v) ? 0.f : (v > 0.f ? 1.f : (v < 0.f ? -1.f : 0.f)); }); break;
      case U_RSQRT: unaryLoop(x, y, n, [](float v) { return float(1.0 / std::sqrt(double(v))); }); break;
      case U_RECIPROCAL: unaryLoop(x, y, n, [](float v) { return 1.f / v; }); break;
      case U_ELU: unaryLoop(x, y, n, [](float v) { return v >= 0.f ? v : float(std::exp(double(v)) - 1.0); }); break;
      case U_RELU6: unaryLoop(x, y, n, [](float v) { return std::isnan(v) ? v : std::min(std::max(v, 0.f), 6.f); }); break;
      default: throw JsError("unary: unknown op " + std::to_string(op));
    }
    return undefinedValue(env);
  });
}

// select(cond Uint8Array, t, e, out): out = cond ? t : e (cond of n values, or one per leading index).
napi_value Select(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    size_t nc = 0;
    const uint8_t* c = u8Arg(env, a[0], "select condition", nc);
    F32 T = f32Arg(env, a[1], "select t"), E = f32Arg(env, a[2], "select e"), O = f32Arg(env, a[3], "select out");
    const int64_t n = int64_t(O.length);
    need(T, O.length, "select t");
    need(E, O.length, "select e");
    if (nc < 1 || n % int64_t(nc) != 0) throw JsError("select: condition size must divide the output size");
    const int64_t inner = n / int64_t(nc);
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) O.data[i] = c[i / inner] ? T.data[i] : E.data[i];
    return undefinedValue(env);
  });
}

// reduce(op, x, y, outer, r, inner): y[o, i] = reduce_k x[o, k, i] (ReduceOp: sum, mean, max, min).
// Sums accumulate in double, like the cpu backend's JS numbers.
napi_value Reduce(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 6);
    const int op = int(numArg(env, a[0], "reduce op"));
    F32 X = f32Arg(env, a[1], "reduce x"), Y = f32Arg(env, a[2], "reduce y");
    const int64_t outer = int64_t(numArg(env, a[3], "reduce outer")), r = int64_t(numArg(env, a[4], "reduce r")),
                  inner = int64_t(numArg(env, a[5], "reduce inner"));
    if (outer < 1 || r < 1 || inner < 1) throw JsError("reduce: sizes must be >= 1");
    need(X, size_t(outer * r * inner), "reduce x");
    need(Y, size_t(outer * inner), "reduce y");
    const float* x = X.data;
    float* y = Y.data;
    if (op == R_SUM || op == R_MEAN) {
      const double scale = op == R_MEAN ? 1.0 / double(r) : 1.0;
      if (inner == 1 && outer == 1 && r > kParallelMin) {
        // A full reduction: split across threads, then combine in a fixed order.
        const int nt = omp_get_max_threads();
        std::vector<double> part(size_t(nt), 0.0);
#pragma omp parallel num_threads(nt)
        {
          const int t = omp_get_thread_num(), m = omp_get_num_threads();
          const int64_t k0 = r * t / m, k1 = r * (t + 1) / m;
          double s = 0;
          for (int64_t k = k0; k < k1; k++) s += x[k];
          part[size_t(t)] = s;
        }
        double s = 0;
        for (double v : part) s += v;
        y[0] = float(s * scale);
      } else if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * r > kParallelMin)
        for (int64_t o = 0; o < outer; o++) {
          double s = 0;
          const float* p = x + o * r;
          for (int64_t k = 0; k < r; k++) s += p[k];
          y[o] = float(s * scale);
        }
      } else if (inner <= 16 && outer >= 2) {
        // A few values per row (per-image sums of NHWC images over H, W): one task per outer index, each
        // accumulating its rows contiguously in double, k in order (the same sums as the branch below)
#pragma omp parallel for schedule(static) if (outer * r * inner > kParallelMin)
        for (int64_t o = 0; o < outer; o++) {
          double acc[16] = {0};
          const float* p = x + o * r * inner;
          for (int64_t k = 0; k < r; k++, p += inner) {
            for (int64_t i = 0; i < inner; i++) acc[i] += p[i];
          }
          for (int64_t i = 0; i < inner; i++) y[o * inner + i] = float(acc[i] * scale);
        }
      } else {
        // Threads own disjoint slices of the inner axis; each accumulates rows in double.
#pragma omp parallel if (outer * r * inner > kParallelMin)
        {
          const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
          const int64_t i0 = inner * t / nt, i1 = inner * (t + 1) / nt;
          std::vector<double> acc(size_t(std::max<int64_t>(i1 - i0, 1)));
          for (int64_t o = 0; o < outer && i1 > i0; o++) {
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int64_t k = 0; k < r; k++) {
              const float* p = x + (o * r + k) * inner;
              for (int64_t i = i0; i < i1; i++) acc[size_t(i - i0)] += p[i];
            }
            for (int64_t i = i0; i < i1; i++) y[o * inner + i] = float(acc[size_t(i - i0)] * scale);
          }
        }
      }
    } else if (op == R_MAX || op == R_MIN) {
      const bool mx = op == R_MAX;
#pragma omp parallel for schedule(static) if (outer * r * inner > kParallelMin)
      for (int64_t oi = 0; oi < outer * inner; oi++) {
        const int64_t o = oi / inner, i = oi % inner;
        float best = x[o * r * inner + i];
        for (int64_t k = 1; k < r; k++) {
          const float v = x[(o * r + k) * inner + i];
          if (std::isnan(v) || (mx ? v > best : v < best)) best = v;
          if (std::isnan(best)) break;
        }
        y[oi] = best;
      }
    } else {
      throw JsError("reduce: unknown op " + std::to_string(op));
    }
    return undefinedValue(env);
  });
}

// ---------------------------------------------------------------------------------------------
// Info and threads
// ---------------------------------------------------------------------------------------------
napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 1);
    int n = int(numArg(env, a[0], "setThreads"));
    if (n < 1) throw JsError("setThreads: need >= 1 thread");
    if (n != omp_get_max_threads()) {
      omp_set_num_threads(n);
      // Primitives are specialised for the thread count at creation time.
      fwdCache.clear();
      bwdDataCache.clear();
      bwdWeiCache.clear();
    }
    return undefinedValue(env);
  });
}

// tuneAllocator(mmapThreshold, trimThreshold): glibc malloc keeps tensor-sized blocks (up to
// mmapThreshold) in its heap and keeps up to trimThreshold of freed memory there, instead of
// mapping every tensor buffer fresh and unmapping it when V8 frees it. A training step allocates
// hundreds of MB of buffers; fresh mappings cost a page fault per 4 KiB on first touch (measured
// 397k vs 124k faults over 13 GAN steps). Returns whether glibc accepted both settings.
napi_value TuneAllocator(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 2);
    const double mmapThreshold = numArg(env, a[0], "tuneAllocator mmapThreshold");
    const double trimThreshold = numArg(env, a[1], "tuneAllocator trimThreshold");
    if (!(mmapThreshold >= 0 && mmapThreshold <= 32.0 * 1024 * 1024)) throw JsError("tuneAllocator: mmapThreshold must be 0..32 MiB");
    if (!(trimThreshold >= 0 && trimThreshold <= 4.0 * 1024 * 1024 * 1024)) throw JsError("tuneAllocator: trimThreshold must be 0..4 GiB");
    bool ok = true;
#ifdef __GLIBC__
    ok = mallopt(M_MMAP_THRESHOLD, int(mmapThreshold)) == 1;
    ok = (mallopt(M_TRIM_THRESHOLD, int(std::min(trimThreshold, 2147483647.0))) == 1) && ok;
#else
    ok = false;
#endif
    napi_value v;
    NAPI_OK(napi_get_boolean(env, ok, &v));
    return v;
  });
}

napi_value Info(napi_env env, napi_callback_info) {
  return guarded(env, [&]() -> napi_value {
    napi_value o, v;
    NAPI_OK(napi_create_object(env, &o));
    const dnnl_version_t* ver = dnnl_version();
    std::string version = std::to_string(ver->major) + "." + std::to_string(ver->minor) + "." + std::to_string(ver->patch);
    NAPI_OK(napi_create_string_utf8(env, version.c_str(), NAPI_AUTO_LENGTH, &v));
    NAPI_OK(napi_set_named_property(env, o, "dnnl", v));
    NAPI_OK(napi_create_int32(env, omp_get_max_threads(), &v));
    NAPI_OK(napi_set_named_property(env, o, "threads", v));
    NAPI_OK(napi_create_string_utf8(env, lastImpl.c_str(), NAPI_AUTO_LENGTH, &v));
    NAPI_OK(napi_set_named_property(env, o, "lastImpl", v));
    NAPI_OK(napi_create_int32(env, int(fwdCache.size() + bwdDataCache.size() + bwdWeiCache.size()), &v));
    NAPI_OK(napi_set_named_property(env, o, "cachedPrimitives", v));
    return o;
  });
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"conv2d", nullptr, Conv2d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2dBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2dBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matMul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool", nullptr, MaxPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binaryStrided", nullptr, BinaryStrided, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"compare", nullptr, Compare, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"activationGrad", nullptr, ActivationGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adam", nullptr, Adam, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"clip", nullptr, Clip, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addN", nullptr, AddN, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"concat", nullptr, Concat, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"clipGrad", nullptr, ClipGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"curve", nullptr, Curve, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"curveGrad", nullptr, CurveGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"colorApply", nullptr, ColorApply, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"colorApplyGrad", nullptr, ColorApplyGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"colorApplyImage", nullptr, ColorApplyImage, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"select", nullptr, Select, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduce", nullptr, Reduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"tuneAllocator", nullptr, TuneAllocator, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
