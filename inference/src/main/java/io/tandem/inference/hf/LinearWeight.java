package io.tandem.inference.hf;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;

/**
 * An {@code nn.Linear} layer's weight and bias as a forward pass multiplies by them: {@code
 * x @ weight^T + bias}, from {@code [N, in]} to {@code [N, out]}.
 */
public sealed interface LinearWeight permits LinearWeight.Dense, LinearWeight.PackedFloat16, LinearWeight.PackedFloat32 {

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

  /**
   * A float32 weight laid out for oneDNN's linear ({@link OneDnn}), with its bias: the same
   * precision as {@link Dense}, faster for every batch of a few rows or more. A small matrix
   * (under {@link #SMALL_WEIGHTS} weights) also keeps its plain copy, which {@code aten::linear}
   * multiplies for batches under {@link #FEW_ROWS} rows, where oneDNN's fixed cost per call is
   * most of the work; a large one keeps only the packed copy, so the weight memory stays what it
   * was (a tied lm_head's packed copy is the exception: the embedding stays for lookups).
   */
  final class PackedFloat32 implements LinearWeight {
    /** Batches under this many rows go to a small matrix's plain copy. */
    static final int FEW_ROWS = 4;
    /**
     * A matrix with fewer weights than this (1 MiB in float32) keeps its plain copy. Above it, read
     * from memory, oneDNN's one-row product beats MKL's matrix-vector one (Qwen2.5-0.5B's qkv_proj,
     * 1,152 x 896: 112 against 208 us on 2 threads); below it, where a matrix stays in cache (the
     * demo pair's), oneDNN's fixed cost per call is most of the work.
     */
    static final long SMALL_WEIGHTS = 1L << 18;

    private final NDArray small;
    private final NDArray bias;
    private final IValue packed;

    /**
     * {@code weight} ({@code [out, in]} float32) as {@code packed} ({@link OneDnn#pack}: owned by
     * this weight from now), with {@code bias} ({@code [out]}, or null). The weight is kept too when
     * it is small; the caller frees it otherwise, if nothing else uses it ({@link #plain} says which).
     */
    PackedFloat32(NDArray weight, NDArray bias, IValue packed) {
      this.packed = packed;
      this.small = weight.size() < SMALL_WEIGHTS ? weight : null;
      this.bias = bias;
    }

    @Override
    public NDArray apply(NDArray x) {
      if (small != null && x.getShape().get(0) < FEW_ROWS)
        return JniUtils.linear((PtNDArray) x, (PtNDArray) small, (PtNDArray) bias);
      return OneDnn.linear(x, packed, bias);
    }

    /** The plain weight of a small matrix, or null where only the packed one is kept. */
    NDArray plain() {
      return small;
    }

    /** The bias, or null. */
    NDArray bias() {
      return bias;
    }

    /** The packed matrix, as {@link OneDnn#pack} returned it (owned by this weight). */
    IValue packed() {
      return packed;
    }

    /** Frees the packed matrix (the plain arrays go with their manager). */
    void close() {
      packed.close();
    }
  }
}
