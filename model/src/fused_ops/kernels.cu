// The fused inference kernels behind `model::fused_ops`, one thread per output element in
// a grid-stride loop. Written in the C subset of CUDA so that the test suite compiles this
// very file as C on the CPU (model/tests/fused_ops_kernels.rs emulates the grid) and holds
// it to the Rust twins in `fused_ops`: the kernels are checked on machines without a GPU.
// Every tensor is contiguous NCHW f32; the Rust side checks shapes before launching.

#ifdef __CUDACC__
#define GT_KERNEL extern "C" __global__
#define GT_INLINE __device__ __forceinline__
#else
#define GT_KERNEL
#define GT_INLINE static inline
#endif

// Activation codes: 0 identity, 1 ReLU, 2 hard swish (x · relu6(x + 3) / 6, in the order
// PyTorch evaluates it). `fused_ops::Act` holds the same numbers.
GT_INLINE float gt_act(float v, int act) {
    if (act == 1) {
        return v > 0.0f ? v : 0.0f;
    }
    if (act == 2) {
        return v * fminf(fmaxf(v + 3.0f, 0.0f), 6.0f) / 6.0f;
    }
    return v;
}

// y[b, c, i, j] = act(bias[c] + Σ_{dy, dx} w[c, dy, dx] · x[b, c / m, i·s − p + dy, j·s − p + dx]),
// zero outside the input, with m = c_out / c_in output channels per input channel: a
// depthwise convolution (m = 1) or a one-channel stem (c_in = 1), batch norm folded into
// w and bias. x: [batch, c_in, h, w]; w: [c_out, k, k]; y: [batch, c_out, ho, wo].
GT_KERNEL void gt_depthwise_bias_act(const float *x, const float *w, const float *bias,
                                     float *y, int batch, int c_in, int h, int wd, int c_out,
                                     int ho, int wo, int k, int stride, int pad, int act) {
    long long total = (long long)batch * c_out * ho * wo;
    long long step = (long long)blockDim.x * gridDim.x;
    int mult = c_out / c_in;
    for (long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x; n < total; n += step) {
        int j = (int)(n % wo);
        int i = (int)((n / wo) % ho);
        int c = (int)((n / ((long long)wo * ho)) % c_out);
        long long b = n / ((long long)wo * ho * c_out);
        const float *plane = x + (b * c_in + c / mult) * (long long)h * wd;
        const float *taps = w + (long long)c * k * k;
        float acc = bias[c];
        for (int dy = 0; dy < k; dy++) {
            int iy = i * stride - pad + dy;
            if (iy < 0 || iy >= h) {
                continue;
            }
            for (int dx = 0; dx < k; dx++) {
                int ix = j * stride - pad + dx;
                if (ix < 0 || ix >= wd) {
                    continue;
                }
                acc += taps[dy * k + dx] * plane[(long long)iy * wd + ix];
            }
        }
        y[n] = gt_act(acc, act);
    }
}

// y = act(x + bias[c]) for x: [batch, channels, plane]: a 1×1 convolution's (a GEMM's)
// folded norm and activation in one pass.
GT_KERNEL void gt_bias_act(const float *x, const float *bias, float *y, long long total,
                           int channels, int plane, int act) {
    long long step = (long long)blockDim.x * gridDim.x;
    for (long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x; n < total; n += step) {
        int c = (int)((n / plane) % channels);
        y[n] = gt_act(x[n] + bias[c], act);
    }
}

// y = x + bias[c] + r: a projection's folded norm and the block's residual in one pass.
GT_KERNEL void gt_bias_residual(const float *x, const float *bias, const float *r, float *y,
                                long long total, int channels, int plane) {
    long long step = (long long)blockDim.x * gridDim.x;
    for (long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x; n < total; n += step) {
        int c = (int)((n / plane) % channels);
        y[n] = (x[n] + bias[c]) + r[n];
    }
}
