package io.tandem.inference.hf;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;

/**
 * FBGEMM's float16-weight linear, which libtorch's CPU build carries (PyTorch's dynamic float16
 * quantization runs on it) but DJL's PyTorch JNI has no binding for: {@code
 * torch.ops.quantized.linear_prepack_fp16(weight, bias)} rounds an {@code nn.Linear} weight {@code
 * [out, in]} to float16 and packs it into FBGEMM's blocked layout once, and {@code
 * torch.ops.quantized.linear_dynamic_fp16(x, packed)} multiplies float32 rows by it (the weights
 * widened in registers; activations, accumulation, bias and output stay float32). Both are reached
 * through a small TorchScript module written here as source and loaded by DJL; the packed weight
 * is a TorchScript object ({@code LinearPackedParamsBase}) held as an {@link IValue}.
 *
 * <p>Why: on the CPUs this project runs on (AMD EPYC, 2 threads, libtorch 2.7.1), MKL's float32
 * GEMV takes its generic code path and packs the weight on every call of a few rows, and float16
 * matmuls through {@code aten::linear} run row by row. Measured for Qwen2.5-0.5B's {@code
 * down_proj} shape (896x4864): 0.23 ms at one row against 0.94 ms (float32 {@code linear}) and
 * 0.42 ms (float16 {@code linear}); 0.72 ms at 8 rows against 3.4 and 3.4 ms; 5.6 ms at 64 rows
 * against 9.8 and 45 ms.
 *
 * <p>Thread-safe: the module is loaded once per process and only read.
 */
final class Fbgemm {

  /** The packed weight's TorchScript type. */
  private static final String PACKED = "__torch__.torch.classes.quantized.LinearPackedParamsBase";

  /** The module's methods, in TorchScript. */
  private static final String CODE = """
        def pack(self: __torch__.Fbgemm, weight: Tensor, bias: Tensor) -> %1$s:
          return ops.quantized.linear_prepack_fp16(weight, bias)
        def pack_without_bias(self: __torch__.Fbgemm, weight: Tensor) -> %1$s:
          return ops.quantized.linear_prepack_fp16(weight, None)
        def linear(self: __torch__.Fbgemm, x: Tensor, packed: %1$s) -> Tensor:
          return ops.quantized.linear_dynamic_fp16(x, packed)
          """.formatted(PACKED);

  private Fbgemm() {}

  /** The loaded module, created on first use (PyTorch must be loaded by then, see {@link Torch}). */
  private static final class Module {
    static final PtSymbolBlock BLOCK = load();

    private static PtSymbolBlock load() {
      try {
        return TorchScript.load("Fbgemm", CODE);
      } catch (EngineException e) {
        throw new IllegalStateException("this libtorch build has no FBGEMM float16 linear, which precision float16"
            + " on the CPU needs; use precision float32 (" + e.getMessage().strip() + ")", e);
      }
    }
  }

  /**
   * Packs an {@code nn.Linear} weight and bias for {@link #linear}.
   *
   * @param weight {@code [out, in]} float32 on the CPU (left as it is)
   * @param bias {@code [out]} float32, or null
   * @return the packed weight (out * in * 2 bytes of native memory, freed when it is closed)
   */
  static IValue pack(NDArray weight, NDArray bias) {
    if (weight.getDataType() != DataType.FLOAT32 || weight.getShape().dimension() != 2)
      throw new IllegalArgumentException("FBGEMM packs a 2-d float32 weight, got " + weight.getDataType() + " " + weight.getShape());
    try (IValue w = IValue.from((PtNDArray) weight)) {
      if (bias == null) return IValueUtils.runMethod(Module.BLOCK, "pack_without_bias", w);
      try (IValue b = IValue.from((PtNDArray) bias)) {
        return IValueUtils.runMethod(Module.BLOCK, "pack", w, b);
      }
    }
  }

  /**
   * {@code x @ weight^T + bias} with the weight and bias as {@link #pack} left them.
   *
   * @param x {@code [N, in]} float32
   * @return {@code [N, out]} float32, in the manager of {@code x}
   */
  static NDArray linear(NDArray x, IValue packed) {
    try (IValue in = IValue.from((PtNDArray) x);
        IValue out = IValueUtils.runMethod(Module.BLOCK, "linear", in, packed)) {
      return out.toTensor((PtNDManager) x.getManager());
    }
  }
}
