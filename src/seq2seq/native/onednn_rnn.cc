// oneDNN's LSTM and linear-before-reset GRU (Keras' `reset_after=True` GRU) as XLA FFI
// custom calls: one call runs a whole sequence forward (prop_kind forward_training, which
// also fills a workspace), one runs it backward from that workspace. Unidirectional,
// left2right or right2left, one layer; float32, or bfloat16 data and weights with a
// float32 bias, LSTM cell state and gradients (the types oneDNN's bf16 backward takes).
// Also oneDNN's matrix multiply, for the products of the decoders' steps (`MatmulCall`).
//
// Layouts: the caller's arrays are oneDNN's plain ones. Inputs and outputs time-major
// (tnc); states (batch, units) = ldnc with l = d = 1; a Keras kernel (features,
// gates * units) = ldigo with l = d = 1; the bias (4, units) = ldgo. oneDNN picks its own
// weights layout (`any`) for each direction of propagation; the weights are reordered to
// it on each call, as training changes them on each call. Primitives are built once per
// problem (cell, direction, dtype, shape) and kept for the process.
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

constexpr int64_t kLstm = 0;  // the `cell` attribute: its index in CELL_NAMES; 1 is the GRU

struct Key {
  int64_t cell, reverse, bf16, steps, batch, features, units;
  bool operator<(const Key& other) const {
    return std::tie(cell, reverse, bf16, steps, batch, features, units) <
           std::tie(other.cell, other.reverse, other.bf16, other.steps, other.batch,
                    other.features, other.units);
  }
};

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& Stream() {
  static dnnl::stream stream(Engine());
  return stream;
}

// Weights as the caller holds them, and the reorder into the layout a primitive wants.
struct Packed {
  memory::desc user;
  bool needed = false;
  memory packed;
  dnnl::reorder reorder;

  Packed() = default;
  Packed(const memory::desc& from, const memory::desc& to) : user(from), needed(from != to) {
    if (needed) {
      packed = memory(to, Engine());
      reorder = dnnl::reorder(dnnl::reorder::primitive_desc(Engine(), from, Engine(), to));
    }
  }

  memory operator()(void* data) {
    memory plain(user, Engine(), data);
    if (!needed) return plain;
    reorder.execute(Stream(), plain, packed);
    return packed;
  }
};

struct Rnn {
  memory::desc x, h, c, w_layer, w_iter, bias, y;  // the caller's, in the data type
  memory::desc dx, dh, dw_layer, dw_iter, dy;        // their gradients, float32
  memory::desc workspace;
  dnnl::primitive forward, backward;
  Packed forward_layer, forward_iter, backward_layer, backward_iter;
};

memory::desc Any(const memory::desc& m) {
  return memory::desc(m.get_dims(), m.get_data_type(), tag::any);
}

std::unique_ptr<Rnn> MakeRnn(const Key& k) {
  auto rnn = std::make_unique<Rnn>();
  Rnn& r = *rnn;
  const dt data = k.bf16 ? dt::bf16 : dt::f32;
  const memory::dim T = k.steps, N = k.batch, C = k.features, U = k.units;
  const memory::dim G = k.cell == kLstm ? 4 : 3;
  r.x = memory::desc({T, N, C}, data, tag::tnc);
  r.h = memory::desc({1, 1, N, U}, data, tag::ldnc);
  r.c = memory::desc({1, 1, N, U}, dt::f32, tag::ldnc);
  r.w_layer = memory::desc({1, 1, C, G, U}, data, tag::ldigo);
  r.w_iter = memory::desc({1, 1, U, G, U}, data, tag::ldigo);
  r.bias = memory::desc({1, 1, 4, U}, dt::f32, tag::ldgo);
  r.y = memory::desc({T, N, U}, data, tag::tnc);
  r.dx = memory::desc({T, N, C}, dt::f32, tag::tnc);
  r.dh = memory::desc({1, 1, N, U}, dt::f32, tag::ldnc);
  r.dw_layer = memory::desc({1, 1, C, G, U}, dt::f32, tag::ldigo);
  r.dw_iter = memory::desc({1, 1, U, G, U}, dt::f32, tag::ldigo);
  r.dy = memory::desc({T, N, U}, dt::f32, tag::tnc);
  const auto direction = k.reverse ? dnnl::rnn_direction::unidirectional_right2left
                                   : dnnl::rnn_direction::unidirectional_left2right;
  const auto training = dnnl::prop_kind::forward_training;
  const auto backward = dnnl::prop_kind::backward;
  dnnl::rnn_primitive_desc_base forward_pd, backward_pd;
  if (k.cell == kLstm) {
    dnnl::lstm_forward::primitive_desc f(Engine(), training, direction, r.x, r.h, r.c,
                                         Any(r.w_layer), Any(r.w_iter), r.bias, r.y, r.h, r.c);
    dnnl::lstm_backward::primitive_desc b(
        Engine(), backward, direction, r.x, r.h, r.c, Any(r.w_layer), Any(r.w_iter), r.bias,
        r.y, r.h, r.c, r.dx, r.dh, r.dh, r.dw_layer, r.dw_iter, r.bias, r.dy, r.dh, r.dh, f);
    r.forward = dnnl::lstm_forward(f);
    r.backward = dnnl::lstm_backward(b);
    forward_pd = f;
    backward_pd = b;
  } else {
    dnnl::lbr_gru_forward::primitive_desc f(Engine(), training, direction, r.x, r.h,
                                            Any(r.w_layer), Any(r.w_iter), r.bias, r.y, r.h);
    dnnl::lbr_gru_backward::primitive_desc b(
        Engine(), backward, direction, r.x, r.h, Any(r.w_layer), Any(r.w_iter), r.bias, r.y,
        r.h, r.dx, r.dh, r.dw_layer, r.dw_iter, r.bias, r.dy, r.dh, f);
    r.forward = dnnl::lbr_gru_forward(f);
    r.backward = dnnl::lbr_gru_backward(b);
    forward_pd = f;
    backward_pd = b;
  }
  r.workspace = forward_pd.workspace_desc();
  r.forward_layer = Packed(r.w_layer, forward_pd.weights_layer_desc());
  r.forward_iter = Packed(r.w_iter, forward_pd.weights_iter_desc());
  r.backward_layer = Packed(r.w_layer, backward_pd.weights_layer_desc());
  r.backward_iter = Packed(r.w_iter, backward_pd.weights_iter_desc());
  return rnn;
}

std::mutex lock;  // guards the cache and the execution (primitives keep one scratchpad)

Rnn& Lookup(const Key& key) {
  static std::map<Key, std::unique_ptr<Rnn>> cache;
  auto& slot = cache[key];
  if (!slot) slot = MakeRnn(key);
  return *slot;
}

memory Wrap(const memory::desc& desc, void* data) { return memory(desc, Engine(), data); }

template <typename T>
void* Data(T&& buffer) {
  return buffer.untyped_data();
}

// Forward: args x, h0, [c0], w_layer, w_iter, bias; results y, h_last, [c_last], workspace.
void RunForward(const Key& key, void* const* arg, void* const* ret) {
  const bool lstm = key.cell == kLstm;
  const size_t n = lstm ? 6 : 5;
  std::lock_guard<std::mutex> guard(lock);
  Rnn& r = Lookup(key);
  std::unordered_map<int, memory> m = {
      {DNNL_ARG_SRC_LAYER, Wrap(r.x, arg[0])},
      {DNNL_ARG_SRC_ITER, Wrap(r.h, arg[1])},
      {DNNL_ARG_WEIGHTS_LAYER, r.forward_layer(arg[n - 3])},
      {DNNL_ARG_WEIGHTS_ITER, r.forward_iter(arg[n - 2])},
      {DNNL_ARG_BIAS, Wrap(r.bias, arg[n - 1])},
      {DNNL_ARG_DST_LAYER, Wrap(r.y, ret[0])},
      {DNNL_ARG_DST_ITER, Wrap(r.h, ret[1])},
      {DNNL_ARG_WORKSPACE, Wrap(r.workspace, ret[lstm ? 3 : 2])},
  };
  if (lstm) {
    m[DNNL_ARG_SRC_ITER_C] = Wrap(r.c, arg[2]);
    m[DNNL_ARG_DST_ITER_C] = Wrap(r.c, ret[2]);
  }
  r.forward.execute(Stream(), m);
  Stream().wait();
}

// Backward: args x, h0, [c0], w_layer, w_iter, bias, y, h_last, [c_last], workspace,
// dy, dh_last, [dc_last]; results dx, dh0, [dc0], dw_layer, dw_iter, dbias (float32).
void RunBackward(const Key& key, void* const* arg, void* const* ret) {
  const bool lstm = key.cell == kLstm;
  const size_t s = lstm ? 1 : 0;  // s: the shift of an LSTM's c
  const int64_t gates = lstm ? 4 : 3;
  const int64_t sizes[] = {key.features * gates * key.units, key.units * gates * key.units,
                           4 * key.units};
  for (size_t i = 0; i < 3; ++i)  // oneDNN adds to the weights' gradients
    std::memset(ret[2 + s + i], 0, sizes[i] * sizeof(float));
  std::lock_guard<std::mutex> guard(lock);
  Rnn& r = Lookup(key);
  std::unordered_map<int, memory> m = {
      {DNNL_ARG_SRC_LAYER, Wrap(r.x, arg[0])},
      {DNNL_ARG_SRC_ITER, Wrap(r.h, arg[1])},
      {DNNL_ARG_WEIGHTS_LAYER, r.backward_layer(arg[2 + s])},
      {DNNL_ARG_WEIGHTS_ITER, r.backward_iter(arg[3 + s])},
      {DNNL_ARG_BIAS, Wrap(r.bias, arg[4 + s])},
      {DNNL_ARG_DST_LAYER, Wrap(r.y, arg[5 + s])},
      {DNNL_ARG_DST_ITER, Wrap(r.h, arg[6 + s])},
      {DNNL_ARG_WORKSPACE, Wrap(r.workspace, arg[7 + 2 * s])},
      {DNNL_ARG_DIFF_DST_LAYER, Wrap(r.dy, arg[8 + 2 * s])},
      {DNNL_ARG_DIFF_DST_ITER, Wrap(r.dh, arg[9 + 2 * s])},
      {DNNL_ARG_DIFF_SRC_LAYER, Wrap(r.dx, ret[0])},
      {DNNL_ARG_DIFF_SRC_ITER, Wrap(r.dh, ret[1])},
      {DNNL_ARG_DIFF_WEIGHTS_LAYER, Wrap(r.dw_layer, ret[2 + s])},
      {DNNL_ARG_DIFF_WEIGHTS_ITER, Wrap(r.dw_iter, ret[3 + s])},
      {DNNL_ARG_DIFF_BIAS, Wrap(r.bias, ret[4 + s])},
  };
  if (lstm) {
    m[DNNL_ARG_SRC_ITER_C] = Wrap(r.c, arg[2]);
    m[DNNL_ARG_DST_ITER_C] = Wrap(r.c, arg[8]);
    m[DNNL_ARG_DIFF_DST_ITER_C] = Wrap(r.dh, arg[12]);
    m[DNNL_ARG_DIFF_SRC_ITER_C] = Wrap(r.dh, ret[2]);
  }
  r.backward.execute(Stream(), m);
  Stream().wait();
}

// The FFI calls: the key from the buffers' shapes, then the pointers.
ffi::Error Call(void (*run)(const Key&, void* const*, void* const*), size_t args_size,
                size_t rets_size, size_t w_iter_index, ffi::RemainingArgs args,
                ffi::RemainingRets rets, int64_t cell, bool reverse, const char* name) {
  if (args.size() != args_size || rets.size() != rets_size)
    return ffi::Error(ffi::ErrorCode::kInvalidArgument, std::string(name) + ": arity");
  std::vector<void*> arg(args_size), ret(rets_size);
  for (size_t i = 0; i < args_size; ++i) arg[i] = Data(args.get<ffi::AnyBuffer>(i).value());
  for (size_t i = 0; i < rets_size; ++i) ret[i] = Data(*rets.get<ffi::AnyBuffer>(i).value());
  auto x = args.get<ffi::AnyBuffer>(0).value();
  auto w_iter = args.get<ffi::AnyBuffer>(w_iter_index).value();
  Key key{cell, reverse, x.element_type() == ffi::DataType::BF16, x.dimensions()[0],
          x.dimensions()[1], x.dimensions()[2], w_iter.dimensions()[0]};
  try {
    run(key, arg.data(), ret.data());
  } catch (const dnnl::error& error) {
    return ffi::Error(ffi::ErrorCode::kInternal, std::string("oneDNN: ") + error.what());
  }
  return ffi::Error::Success();
}

ffi::Error Forward(ffi::RemainingArgs args, ffi::RemainingRets rets, int64_t cell,
                   bool reverse) {
  const size_t n = cell == kLstm ? 6 : 5;
  return Call(RunForward, n, n - 2, n - 2, args, rets, cell, reverse, "onednn rnn forward");
}

ffi::Error Backward(ffi::RemainingArgs args, ffi::RemainingRets rets, int64_t cell,
                    bool reverse) {
  const bool lstm = cell == kLstm;
  return Call(RunBackward, lstm ? 13 : 10, lstm ? 6 : 5, lstm ? 4 : 3, args, rets, cell,
              reverse, "onednn rnn backward");
}

// Matrix multiply c = op(a) @ op(b), op a transpose where asked: a (m, k) or, transposed,
// stored (k, m); b (k, n) or stored (n, k); c (m, n). The operands float32 or bfloat16,
// the result float32 or bfloat16 (its buffer's type). One primitive per problem, kept.
struct MatmulKey {
  int64_t m, k, n, transpose_a, transpose_b;
  ffi::DataType a, b, c;
  bool operator<(const MatmulKey& o) const {
    return std::tie(m, k, n, transpose_a, transpose_b, a, b, c) <
           std::tie(o.m, o.k, o.n, o.transpose_a, o.transpose_b, o.a, o.b, o.c);
  }
};

struct Matmul {
  memory::desc a, b, c;
  dnnl::matmul primitive;
};

dt Type(ffi::DataType type) { return type == ffi::DataType::BF16 ? dt::bf16 : dt::f32; }

Matmul& LookupMatmul(const MatmulKey& k) {
  static std::map<MatmulKey, std::unique_ptr<Matmul>> cache;
  auto& slot = cache[k];
  if (!slot) {  // built whole before it is kept: a failed build leaves no entry behind
    auto made = std::make_unique<Matmul>();
    made->a = memory::desc({k.m, k.k}, Type(k.a), k.transpose_a ? tag::ba : tag::ab);
    made->b = memory::desc({k.k, k.n}, Type(k.b), k.transpose_b ? tag::ba : tag::ab);
    made->c = memory::desc({k.m, k.n}, Type(k.c), tag::ab);
    made->primitive = dnnl::matmul(
        dnnl::matmul::primitive_desc(Engine(), made->a, made->b, made->c));
    slot = std::move(made);
  }
  return *slot;
}

ffi::Error MatmulCall(ffi::AnyBuffer a, ffi::AnyBuffer b, ffi::Result<ffi::AnyBuffer> c,
                      bool transpose_a, bool transpose_b) {
  auto da = a.dimensions(), db = b.dimensions();
  if (da.size() != 2 || db.size() != 2)
    return ffi::Error(ffi::ErrorCode::kInvalidArgument, "onednn matmul: 2-D operands only");
  const int64_t m = transpose_a ? da[1] : da[0], k = transpose_a ? da[0] : da[1];
  const int64_t n = transpose_b ? db[0] : db[1];
  MatmulKey key{m, k, n, transpose_a, transpose_b, a.element_type(), b.element_type(),
                c->element_type()};
  try {
    std::lock_guard<std::mutex> guard(lock);
    Matmul& mm = LookupMatmul(key);
    mm.primitive.execute(Stream(), {{DNNL_ARG_SRC, Wrap(mm.a, Data(a))},
                                    {DNNL_ARG_WEIGHTS, Wrap(mm.b, Data(b))},
                                    {DNNL_ARG_DST, Wrap(mm.c, Data(*c))}});
    Stream().wait();
  } catch (const dnnl::error& error) {
    return ffi::Error(ffi::ErrorCode::kInternal, std::string("oneDNN: ") + error.what());
  }
  return ffi::Error::Success();
}

}  // namespace

// The workspace's size in bytes for a problem (known before the forward call runs, so
// that XLA can allocate it), or -1 where oneDNN has no primitive for it (or no engine).
extern "C" int64_t Seq2seqOnednnWorkspaceSize(int64_t cell, int64_t reverse, int64_t bf16,
                                              int64_t steps, int64_t batch, int64_t features,
                                              int64_t units) {
  try {
    std::lock_guard<std::mutex> guard(lock);
    return static_cast<int64_t>(
        Lookup(Key{cell, reverse != 0, bf16 != 0, steps, batch, features, units})
            .workspace.get_size());
  } catch (const std::exception&) {
    return -1;
  }
}

// Whether oneDNN multiplies bfloat16 matrices on this CPU (into float32 and into
// bfloat16, both operands either way round): 1 or 0. CPUs without AVX-512 (or AVX2-VNNI-2)
// have no bfloat16 matmul in oneDNN; the callers then keep XLA's products.
extern "C" int64_t Seq2seqOnednnBfloat16Matmul() {
  try {
    std::lock_guard<std::mutex> guard(lock);
    for (auto c : {ffi::DataType::F32, ffi::DataType::BF16})
      for (int64_t transpose : {0, 1})
        LookupMatmul(MatmulKey{16, 16, 16, transpose, 1 - transpose, ffi::DataType::BF16,
                               ffi::DataType::BF16, c});
    return 1;
  } catch (const std::exception&) {
    return 0;
  }
}

// The same two calls on raw pointers, for a caller outside XLA (the TensorFlow
// backend, through ctypes): the arrays in the order of `RunForward` and `RunBackward`,
// shapes as `Key`. Return 0, or -1 where oneDNN fails.
namespace {

int64_t RunRaw(void (*run)(const Key&, void* const*, void* const*), int64_t cell,
               int64_t reverse, int64_t bf16, int64_t steps, int64_t batch, int64_t features,
               int64_t units, void* const* args, void* const* rets) {
  try {
    run(Key{cell, reverse != 0, bf16 != 0, steps, batch, features, units}, args, rets);
    return 0;
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

extern "C" int64_t Seq2seqOnednnRnnForwardRaw(int64_t cell, int64_t reverse, int64_t bf16,
                                             int64_t steps, int64_t batch, int64_t features,
                                             int64_t units, void* const* args,
                                             void* const* rets) {
  return RunRaw(RunForward, cell, reverse, bf16, steps, batch, features, units, args, rets);
}

extern "C" int64_t Seq2seqOnednnRnnBackwardRaw(int64_t cell, int64_t reverse, int64_t bf16,
                                              int64_t steps, int64_t batch, int64_t features,
                                              int64_t units, void* const* args,
                                              void* const* rets) {
  return RunRaw(RunBackward, cell, reverse, bf16, steps, batch, features, units, args, rets);
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(Seq2seqOnednnRnnForward, Forward,
                              ffi::Ffi::Bind()
                                  .RemainingArgs()
                                  .RemainingRets()
                                  .Attr<int64_t>("cell")
                                  .Attr<bool>("reverse"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(Seq2seqOnednnRnnBackward, Backward,
                              ffi::Ffi::Bind()
                                  .RemainingArgs()
                                  .RemainingRets()
                                  .Attr<int64_t>("cell")
                                  .Attr<bool>("reverse"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(Seq2seqOnednnMatmul, MatmulCall,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<bool>("transpose_a")
                                  .Attr<bool>("transpose_b"));
