// LSTM recurrence on the CPU as XLA FFI custom calls: the forward loop and the backward
// loop over all time steps in one call each, the batch rows split over XLA's intra-op
// threads (rows are independent for the whole sequence, so no step needs a barrier).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

// One vector is a register: 16 floats with AVX-512, 8 with AVX2 alone. A block of the
// matrix multiply keeps kRows x kCols vectors of the product in registers (32 of them
// with AVX-512, 16 with AVX2), with kCols of the right-hand side and one broadcast.
#ifdef __AVX512F__
constexpr int64_t kWidth = 16, kRows = 4, kCols = 4;
#else
constexpr int64_t kWidth = 8, kRows = 4, kCols = 2;
#endif
typedef float vf __attribute__((vector_size(kWidth * 4)));
typedef int32_t vi __attribute__((vector_size(kWidth * 4)));

inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
inline vf splat(float x) { return vf{} + x; }

// exp(x) for x in [-87, 88]: Cody-Waite reduction and Cephes' degree-6 polynomial.
inline vf exp_approx(vf x) {
  x = x < -87.0f ? splat(-87.0f) : x;
  x = x > 88.0f ? splat(88.0f) : x;
  vf t = x * 1.44269504088896341f;
  vf half = t < 0.0f ? splat(-0.5f) : splat(0.5f);
  vi n = __builtin_convertvector(t + half, vi);
  vf nf = __builtin_convertvector(n, vf);
  vf r = x - nf * 0.693359375f + nf * 2.12194440e-4f;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  vi bits = (n + 127) << 23;
  vf scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
inline vf sigmoid(vf x) { return 1.0f / (1.0f + exp_approx(-x)); }
inline vf tanh_approx(vf x) { return 2.0f * sigmoid(2.0f * x) - 1.0f; }

// c[R, 16 * Q] = init[R, 16 * Q] (or 0) + a[R, k] @ b[k, 16 * Q]; row strides lda, ldb,
// ldi, ldc.
template <int R, int Q>
inline void block(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k,
                  const float* init, int64_t ldi, float* c, int64_t ldc) {
  vf acc[R][Q];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int q = 0; q < Q; ++q)
      acc[r][q] = init ? load(init + r * ldi + q * kWidth) : splat(0.0f);
  for (int64_t i = 0; i < k; ++i) {
    vf bv[Q];
#pragma GCC unroll 4
    for (int q = 0; q < Q; ++q) bv[q] = load(b + i * ldb + q * kWidth);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      vf av = splat(a[r * lda + i]);
#pragma GCC unroll 4
      for (int q = 0; q < Q; ++q) acc[r][q] += av * bv[q];
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int q = 0; q < Q; ++q) store(c + r * ldc + q * kWidth, acc[r][q]);
}

// c[rows, n] = init (or 0) + a[rows, k] @ b[k, n]; n a multiple of kWidth, all row-major.
void matmul(const float* a, int64_t lda, int64_t rows, const float* b, int64_t k, int64_t n,
            const float* init, int64_t ldi, float* c, int64_t ldc) {
  for (int64_t j = 0; j < n;) {
    if (n - j >= kCols * kWidth) {
      int64_t r = 0;
      for (; r + kRows <= rows; r += kRows)
        block<kRows, kCols>(a + r * lda, lda, b + j, n, k,
                            init ? init + r * ldi + j : nullptr, ldi, c + r * ldc + j, ldc);
      for (; r < rows; ++r)
        block<1, kCols>(a + r * lda, lda, b + j, n, k, init ? init + r * ldi + j : nullptr,
                        ldi, c + r * ldc + j, ldc);
      j += kCols * kWidth;
    } else {
      int64_t r = 0;
      for (; r + kRows <= rows; r += kRows)
        block<kRows, 1>(a + r * lda, lda, b + j, n, k, init ? init + r * ldi + j : nullptr,
                        ldi, c + r * ldc + j, ldc);
      for (; r < rows; ++r)
        block<1, 1>(a + r * lda, lda, b + j, n, k, init ? init + r * ldi + j : nullptr, ldi,
                    c + r * ldc + j, ldc);
      j += kWidth;
    }
  }
}

// Runs part(p) for p in [0, parts) on the calling thread and the pool's threads. The
// caller takes every part no pool thread has started, so it never waits for a task
// that has not begun (no deadlock when the pool is busy).
template <typename F>
void parallel_parts(ffi::ThreadPool& pool, int64_t parts, F part) {
  struct State {
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> done{0};
  };
  auto state = std::make_shared<State>();
  auto claim = [state, parts](auto& fn) {
    for (int64_t p; (p = state->next.fetch_add(1)) < parts;) {
      fn(p);
      state->done.fetch_add(1);
    }
  };
  // A task may start after this call has returned; it then finds no part left and
  // touches only `state`, which it shares.
  for (int64_t i = 1; i < parts; ++i) pool.Schedule([claim, fn = &part]() { claim(*fn); });
  claim(part);
  while (state->done.load() < parts) std::this_thread::yield();
}

int64_t parts_for(ffi::ThreadPool& pool, int64_t batch) {
  int64_t threads = std::max<int64_t>(1, pool.num_threads());
  return std::max<int64_t>(1, std::min(threads, batch / 4));
}

// The forward loop. With a mask (`mask` [steps, batch] weights, 0 at padding), a padded
// step keeps the previous state; `c_new` then receives each step's unmasked cell state.
ffi::Error ForwardImpl(ffi::ThreadPool& pool, ffi::Buffer<ffi::F32>& projected,
                       ffi::Buffer<ffi::F32>& h0, ffi::Buffer<ffi::F32>& c0,
                       ffi::Buffer<ffi::F32>& kernel, const float* mask, bool reverse,
                       int64_t steps, float* h_out, float* c_out, float* s_out, float* c_new) {
  const int64_t batch = h0.dimensions()[0], units = h0.dimensions()[1];
  const int64_t width = 4 * units;
  const bool constant = projected.dimensions().size() == 2;
  const float* z_in = projected.typed_data();
  const float* k = kernel.typed_data();
  const int64_t parts = parts_for(pool, batch);
  auto part = [&](int64_t p) {
    const int64_t lo = batch * p / parts, hi = batch * (p + 1) / parts, rows = hi - lo;
    const float* h_prev = h0.typed_data() + lo * units;
    const float* c_prev = c0.typed_data() + lo * units;
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t t = reverse ? steps - 1 - step : step;
      const int64_t at = t * batch + lo;
      const float* z_t = constant ? z_in + lo * width : z_in + at * width;
      float* s = s_out + at * width;
      float* h = h_out + at * units;
      float* c = c_out + at * units;
      matmul(h_prev, units, rows, k, units, width, z_t, width, s, width);
      for (int64_t r = 0; r < rows; ++r) {
        float* sr = s + r * width;
        for (int64_t j = 0; j < units; j += kWidth) {
          const int64_t x = r * units + j;
          vf i = sigmoid(load(sr + j));
          vf f = sigmoid(load(sr + units + j));
          vf g = sigmoid(2.0f * load(sr + 2 * units + j));
          vf o = sigmoid(load(sr + 3 * units + j));
          store(sr + j, i);
          store(sr + units + j, f);
          store(sr + 2 * units + j, g);
          store(sr + 3 * units + j, o);
          vf c_t = f * load(c_prev + x) + i * (2.0f * g - 1.0f);
          vf h_t = o * tanh_approx(c_t);
          if (mask) {
            const float m = mask[at + r];
            store(c_new + at * units + x, c_t);
            c_t = m * c_t + (1.0f - m) * load(c_prev + x);
            h_t = m * h_t + (1.0f - m) * load(h_prev + x);
          }
          store(c + x, c_t);
          store(h + x, h_t);
        }
      }
      h_prev = h;
      c_prev = c;
    }
  };
  parallel_parts(pool, parts, part);
  return ffi::Error::Success();
}

ffi::Error Forward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> projected,
                   ffi::Buffer<ffi::F32> h0, ffi::Buffer<ffi::F32> c0,
                   ffi::Buffer<ffi::F32> kernel, bool reverse, int64_t steps,
                   ffi::ResultBuffer<ffi::F32> hs, ffi::ResultBuffer<ffi::F32> cs,
                   ffi::ResultBuffer<ffi::F32> gates) {
  return ForwardImpl(pool, projected, h0, c0, kernel, nullptr, reverse, steps,
                     hs->typed_data(), cs->typed_data(), gates->typed_data(), nullptr);
}

ffi::Error ForwardMasked(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> projected,
                         ffi::Buffer<ffi::F32> mask, ffi::Buffer<ffi::F32> h0,
                         ffi::Buffer<ffi::F32> c0, ffi::Buffer<ffi::F32> kernel, bool reverse,
                         ffi::ResultBuffer<ffi::F32> hs, ffi::ResultBuffer<ffi::F32> cs,
                         ffi::ResultBuffer<ffi::F32> gates,
                         ffi::ResultBuffer<ffi::F32> cs_new) {
  return ForwardImpl(pool, projected, h0, c0, kernel, mask.typed_data(), reverse,
                     projected.dimensions()[0], hs->typed_data(), cs->typed_data(),
                     gates->typed_data(), cs_new->typed_data());
}

// The backward loop: the gates' gradients `dzs` (and their sum over steps in `d_sum`
// if `sum`), `dh0` and `dc0`. With a mask, `cs` holds the kept cell states and
// `cs_new` each step's unmasked one.
ffi::Error BackwardImpl(ffi::ThreadPool& pool, ffi::Buffer<ffi::F32>& d_hs,
                        ffi::Buffer<ffi::F32>& d_h_last, ffi::Buffer<ffi::F32>& d_c_last,
                        ffi::Buffer<ffi::F32>& cs, ffi::Buffer<ffi::F32>& c0,
                        ffi::Buffer<ffi::F32>& gates, ffi::Buffer<ffi::F32>& kernel_t,
                        const float* mask, const float* cs_new, bool reverse, bool sum,
                        float* dzs, float* dh0, float* dc0, float* d_sum) {
  const int64_t steps = cs.dimensions()[0], batch = cs.dimensions()[1];
  const int64_t units = cs.dimensions()[2], width = 4 * units;
  const float* kt = kernel_t.typed_data();
  const int64_t parts = parts_for(pool, batch);
  auto part = [&](int64_t p) {
    const int64_t lo = batch * p / parts, hi = batch * (p + 1) / parts, rows = hi - lo;
    float* dh_next = dh0 + lo * units;
    float* dc = dc0 + lo * units;
    float* total = sum ? d_sum + lo * width : nullptr;
    std::vector<float> kept(mask ? rows * units : 0);  // (1 - m) dh, carried past a pad
    std::memcpy(dh_next, d_h_last.typed_data() + lo * units, rows * units * sizeof(float));
    std::memcpy(dc, d_c_last.typed_data() + lo * units, rows * units * sizeof(float));
    if (sum) std::memset(total, 0, rows * width * sizeof(float));
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t t = reverse ? step : steps - 1 - step;
      const int64_t at = t * batch + lo;
      const bool first = reverse ? t == steps - 1 : t == 0;  // the forward's first step
      const int64_t before = (reverse ? t + 1 : t - 1) * batch + lo;
      const float* c_before = first ? c0.typed_data() + lo * units : cs.typed_data() + before * units;
      const float* c_t = (mask ? cs_new : cs.typed_data()) + at * units;
      const float* d_h = d_hs.typed_data() + at * units;
      const float* s = gates.typed_data() + at * width;
      float* dz = dzs + at * width;
      for (int64_t r = 0; r < rows; ++r) {
        const float* sr = s + r * width;
        float* dzr = dz + r * width;
        const float m = mask ? mask[at + r] : 1.0f;
        for (int64_t j = 0; j < units; j += kWidth) {
          const int64_t x = r * units + j;
          vf i = load(sr + j), f = load(sr + units + j);
          vf g = load(sr + 2 * units + j), o = load(sr + 3 * units + j);
          vf dh = load(d_h + x) * m + load(dh_next + x);
          vf dc_next = load(dc + x);
          vf tc = tanh_approx(load(c_t + x));
          vf dcv = m * dc_next + m * dh * o * (1.0f - tc * tc);
          store(dzr + j, dcv * (2.0f * g - 1.0f) * i * (1.0f - i));
          store(dzr + units + j, dcv * load(c_before + x) * f * (1.0f - f));
          store(dzr + 2 * units + j, dcv * i * 4.0f * g * (1.0f - g));
          store(dzr + 3 * units + j, m * dh * tc * o * (1.0f - o));
          if (mask) {
            store(dc + x, dcv * f + (1.0f - m) * dc_next);
            store(kept.data() + x, (1.0f - m) * dh);
          } else {
            store(dc + x, dcv * f);
          }
        }
      }
      matmul(dz, width, rows, kt, width, units, mask ? kept.data() : nullptr, units, dh_next,
             units);
      if (sum)
        for (int64_t x = 0; x < rows * width; x += kWidth)
          store(total + x, load(total + x) + load(dz + x));
    }
  };
  parallel_parts(pool, parts, part);
  return ffi::Error::Success();
}

ffi::Error Backward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> d_hs,
                    ffi::Buffer<ffi::F32> d_h_last, ffi::Buffer<ffi::F32> d_c_last,
                    ffi::Buffer<ffi::F32> cs, ffi::Buffer<ffi::F32> c0,
                    ffi::Buffer<ffi::F32> gates, ffi::Buffer<ffi::F32> kernel_t, bool reverse,
                    bool sum, ffi::ResultBuffer<ffi::F32> dzs, ffi::ResultBuffer<ffi::F32> dh0,
                    ffi::ResultBuffer<ffi::F32> dc0, ffi::ResultBuffer<ffi::F32> d_sum) {
  return BackwardImpl(pool, d_hs, d_h_last, d_c_last, cs, c0, gates, kernel_t, nullptr,
                      nullptr, reverse, sum, dzs->typed_data(), dh0->typed_data(),
                      dc0->typed_data(), d_sum->typed_data());
}

ffi::Error BackwardMasked(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> d_hs,
                          ffi::Buffer<ffi::F32> mask, ffi::Buffer<ffi::F32> d_h_last,
                          ffi::Buffer<ffi::F32> d_c_last, ffi::Buffer<ffi::F32> cs,
                          ffi::Buffer<ffi::F32> cs_new, ffi::Buffer<ffi::F32> c0,
                          ffi::Buffer<ffi::F32> gates, ffi::Buffer<ffi::F32> kernel_t,
                          bool reverse, ffi::ResultBuffer<ffi::F32> dzs,
                          ffi::ResultBuffer<ffi::F32> dh0, ffi::ResultBuffer<ffi::F32> dc0) {
  return BackwardImpl(pool, d_hs, d_h_last, d_c_last, cs, c0, gates, kernel_t,
                      mask.typed_data(), cs_new.typed_data(), reverse, false,
                      dzs->typed_data(), dh0->typed_data(), dc0->typed_data(), nullptr);
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(Seq2seqLstmForward, Forward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Attr<bool>("reverse")
                                  .Attr<int64_t>("steps")
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(Seq2seqLstmBackward, Backward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Attr<bool>("reverse")
                                  .Attr<bool>("sum")
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(Seq2seqLstmForwardMasked, ForwardMasked,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Attr<bool>("reverse")
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(Seq2seqLstmBackwardMasked, BackwardMasked,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Attr<bool>("reverse")
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());
