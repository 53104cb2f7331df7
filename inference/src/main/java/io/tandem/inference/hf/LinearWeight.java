package io.tandem.inference.hf;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;

/**
 * An {@code nn.Linear} layer's weight and bias as a forward pass multiplies by them: {@code
 * x @ weight^T + bias}, from {@code [N, in]} to {@code [N, out]}.
 */
public sealed interface LinearWeight permits LinearWeight.Dense, LinearWeight.PackedFloat16 {

  /**
   * {@code x @ weight^T + bias}.
   *
   * @param x {@code [N, in]}
   * @return {@code [N, out]}, in the manager of {@code x}
   */
  NDArray apply(NDArray x);

  /**
   * Plain arrays in the activations' dtype, multiplied by {@code aten::linear}.
   *
   * @param weight {@code [out, in]}
   * @param bias {@code [out]}, or null
   */
  record Dense(NDArray weight, NDArray bias) implements LinearWeight {
    /** A weight without bias. */
    public Dense(NDArray weight) {
      this(weight, null);
    }

    @Override
    public NDArray apply(NDArray x) {
      return JniUtils.linear((PtNDArray) x, (PtNDArray) weight, (PtNDArray) bias);
    }
  }

  /**
   * A float32 weight rounded to float16 and packed, with its bias, for FBGEMM's float16 linear
   * ({@link Fbgemm}): half the bytes; float32 activations and accumulation.
   */
  final class PackedFloat16 implements LinearWeight {
    private final IValue packed;

    /**
     * Packs {@code weight} ({@code [out, in]} float32) and {@code bias} ({@code [out]}, or null);
     * both are left as they are, for the caller to free.
     */
    PackedFloat16(NDArray weight, NDArray bias) {
      this.packed = Fbgemm.pack(weight, bias);
    }

    @Override
    public NDArray apply(NDArray x) {
      return Fbgemm.linear(x, packed);
    }

    /** The packed matrix, as {@link Fbgemm#pack} returned it (owned by this weight). */
    IValue packed() {
      return packed;
    }

    /** Frees the packed matrix. */
    void close() {
      packed.close();
    }
  }
}
