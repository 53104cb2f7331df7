package io.tandem.inference.hf;

/**
 * Receives intermediate tensors of a single-sequence forward pass, named as in the golden
 * fixtures ({@code embeddings}, {@code layer0.q_after_rope}, {@code layer1.output},
 * {@code final_norm_output}, ...), for tests and debugging.
 */
@FunctionalInterface
public interface ForwardProbe {

  /** One intermediate, row-major float32, with its shape. */
  void record(String name, float[] values, long[] shape);
}
