package io.tandem.inference.hf;

import java.util.Locale;

/**
 * The width of a model's weights, a setting per role.
 *
 * <ul>
 *   <li>{@code float32}: weights and activations in float32, what the golden fixtures are computed in.
 *   <li>{@code float16} on the CPU: the weight matrices (and the lm_head) also held in float16; a
 *       forward pass of at most {@link #HALF_MAX_ROWS} rows multiplies by those, a larger one (a
 *       prefill) by the float32 ones. Activations, norms, attention and the KV cache stay float32.
 *       Decode reads half the bytes per token; the price is 1.5x the weight memory. Measured on
 *       a 2-core AMD EPYC with DJL's libtorch 2.7.1: a linear of Qwen2.5-0.5B's down_proj shape
 *       took 0.28 ms in float16 against 0.74 ms in float32 at one row, about even at 8 rows, and
 *       2.3x longer at 64 rows (float16 matmuls with many rows fall back to a slow kernel there).
 *   <li>{@code float16} on a GPU: everything in float16.
 * </ul>
 */
public enum Precision {
  FLOAT32,
  FLOAT16;

  /** Passes with at most this many rows (new tokens over the batch) use float16 weights on the CPU. */
  public static final int HALF_MAX_ROWS = 8;

  /** {@code float32} or {@code float16}, as written in config and on the command line. */
  public static Precision parse(String name) {
    String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    return switch (n) {
      case "float32" -> FLOAT32;
      case "float16" -> FLOAT16;
      default -> throw new IllegalArgumentException(
          "unknown precision '" + name + "': use float32 (exact, the default) or float16 (faster decode, 1.5x weight memory on the CPU)");
    };
  }

  /** The name used in config: {@code float32} or {@code float16}. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
