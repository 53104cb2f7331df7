package io.tandem.inference.hf;

import java.util.Locale;

/**
 * The width of a model's weights, a setting per role.
 *
 * <ul>
 *   <li>{@code float32}: weights and activations in float32, what the golden fixtures are computed in.
 *       On the CPU the matrices are laid out once for oneDNN's float32 linear ({@link OneDnn}; the
 *       same precision, 2-4x faster than MKL here for batches of 8 rows and more).
 *   <li>{@code float16} on the CPU: every matrix (and the lm_head) rounded to float16 and packed for
 *       FBGEMM's float16-weight GEMM ({@link Fbgemm}), the embedding held in float16; activations,
 *       accumulation, norms, attention and the KV cache stay float32. Half the weight memory, and
 *       on the measured CPU (2-core AMD EPYC, libtorch 2.7.1) a Qwen2.5-0.5B-shaped linear 5x
 *       faster than float32 at one row, 3x at 8 rows, even at 64 rows.
 *   <li>{@code float16} on a GPU: everything in float16.
 * </ul>
 */
public enum Precision {
  FLOAT32,
  FLOAT16;

  /** {@code float32} or {@code float16}, as written in config and on the command line. */
  public static Precision parse(String name) {
    String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    return switch (n) {
      case "float32" -> FLOAT32;
      case "float16" -> FLOAT16;
      default -> throw new IllegalArgumentException(
          "unknown precision '" + io.tandem.protocol.text.Clipped.of(name) + "': use float32 (exact, the default) or float16 (faster, half the weight memory)");
    };
  }

  /** The name used in config: {@code float32} or {@code float16}. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
