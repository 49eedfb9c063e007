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

constexpr int64_t kWidth = 16;  // floats per vector
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));

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

// c[rows, n] = init (or 0) + a[rows, k] @ b[k, n]; n a multiple of 16, all row-major.
void matmul(const float* a, int64_t lda, int64_t rows, const float* b, int64_t k, int64_t n,
            const float* init, int64_t ldi, float* c, int64_t ldc) {
  for (int64_t j = 0; j < n;) {
    if (n - j >= 4 * kWidth) {
      int64_t r = 0;
      for (; r + 4 <= rows; r += 4)
        block<4, 4>(a + r * lda, lda, b + j, n, k, init ? init + r * ldi + j : nullptr, ldi,
                    c + r * ldc + j, ldc);
      for (; r < rows; ++r)
        block<1, 4>(a + r * lda, lda, b + j, n, k, init ? init + r * ldi + j : nullptr, ldi,
                    c + r * ldc + j, ldc);
      j += 4 * kWidth;
    } else {
      int64_t r = 0;
      for (; r + 4 <= rows; r += 4)
        block<4, 1>(a + r * lda, lda, b + j, n, k, init ? init + r * ldi + j : nullptr, ldi,
                    c + r * ldc + j, ldc);
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

ffi::Error Forward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> projected,
                   ffi::Buffer<ffi::F32> h0, ffi::Buffer<ffi::F32> c0,
                   ffi::Buffer<ffi::F32> kernel, bool reverse, int64_t steps,
                   ffi::ResultBuffer<ffi::F32> hs, ffi::ResultBuffer<ffi::F32> cs,
                   ffi::ResultBuffer<ffi::F32> gates) {
  const int64_t batch = h0.dimensions()[0], units = h0.dimensions()[1];
  const int64_t width = 4 * units;
  const bool constant = projected.dimensions().size() == 2;
  const float* z_in = projected.typed_data();
  const float* k = kernel.typed_data();
  float* h_out = hs->typed_data();
  float* c_out = cs->typed_data();
  float* s_out = gates->typed_data();
  const int64_t parts = parts_for(pool, batch);
  auto part = [&](int64_t p) {
    const int64_t lo = batch * p / parts, hi = batch * (p + 1) / parts, rows = hi - lo;
    const float* h_prev = h0.typed_data() + lo * units;
    const float* c_prev = c0.typed_data() + lo * units;
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t t = reverse ? steps - 1 - step : step;
      const float* z_t = constant ? z_in + lo * width : z_in + (t * batch + lo) * width;
      float* s = s_out + (t * batch + lo) * width;
      float* h = h_out + (t * batch + lo) * units;
      float* c = c_out + (t * batch + lo) * units;
      matmul(h_prev, units, rows, k, units, width, z_t, width, s, width);
      for (int64_t r = 0; r < rows; ++r) {
        float* sr = s + r * width;
        for (int64_t j = 0; j < units; j += kWidth) {
          vf i = sigmoid(load(sr + j));
          vf f = sigmoid(load(sr + units + j));
          vf g = sigmoid(2.0f * load(sr + 2 * units + j));
          vf o = sigmoid(load(sr + 3 * units + j));
          store(sr + j, i);
          store(sr + units + j, f);
          store(sr + 2 * units + j, g);
          store(sr + 3 * units + j, o);
          vf c_new = f * load(c_prev + r * units + j) + i * (2.0f * g - 1.0f);
          store(c + r * units + j, c_new);
          store(h + r * units + j, o * tanh_approx(c_new));
        }
      }
      h_prev = h;
      c_prev = c;
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
  const int64_t steps = cs.dimensions()[0], batch = cs.dimensions()[1];
  const int64_t units = cs.dimensions()[2], width = 4 * units;
  const float* kt = kernel_t.typed_data();
  const int64_t parts = parts_for(pool, batch);
  auto part = [&](int64_t p) {
    const int64_t lo = batch * p / parts, hi = batch * (p + 1) / parts, rows = hi - lo;
    float* dh_next = dh0->typed_data() + lo * units;
    float* dc = dc0->typed_data() + lo * units;
    float* total = sum ? d_sum->typed_data() + lo * width : nullptr;
    std::memcpy(dh_next, d_h_last.typed_data() + lo * units, rows * units * sizeof(float));
    std::memcpy(dc, d_c_last.typed_data() + lo * units, rows * units * sizeof(float));
    if (sum) std::memset(total, 0, rows * width * sizeof(float));
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t t = reverse ? step : steps - 1 - step;
      const bool first = reverse ? t == steps - 1 : t == 0;  // the forward's first step
      const int64_t t_before = reverse ? t + 1 : t - 1;
      const float* c_before =
          first ? c0.typed_data() + lo * units : cs.typed_data() + (t_before * batch + lo) * units;
      const float* c_t = cs.typed_data() + (t * batch + lo) * units;
      const float* d_h = d_hs.typed_data() + (t * batch + lo) * units;
      const float* s = gates.typed_data() + (t * batch + lo) * width;
      float* dz = dzs->typed_data() + (t * batch + lo) * width;
      for (int64_t r = 0; r < rows; ++r) {
        const float* sr = s + r * width;
        float* dzr = dz + r * width;
        for (int64_t j = 0; j < units; j += kWidth) {
          const int64_t x = r * units + j;
          vf i = load(sr + j), f = load(sr + units + j);
          vf g = load(sr + 2 * units + j), o = load(sr + 3 * units + j);
          vf dh = load(d_h + x) + load(dh_next + x);
          vf tc = tanh_approx(load(c_t + x));
          vf dcv = load(dc + x) + dh * o * (1.0f - tc * tc);
          store(dzr + j, dcv * (2.0f * g - 1.0f) * i * (1.0f - i));
          store(dzr + units + j, dcv * load(c_before + x) * f * (1.0f - f));
          store(dzr + 2 * units + j, dcv * i * 4.0f * g * (1.0f - g));
          store(dzr + 3 * units + j, dh * tc * o * (1.0f - o));
          store(dc + x, dcv * f);
        }
      }
      matmul(dz, width, rows, kt, width, units, nullptr, 0, dh_next, units);
      if (sum)
        for (int64_t x = 0; x < rows * width; x += kWidth)
          store(total + x, load(total + x) + load(dz + x));
    }
  };
  parallel_parts(pool, parts, part);
  return ffi::Error::Success();
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
