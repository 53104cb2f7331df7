package io.tandem.protocol.text;

import java.math.BigDecimal;
import java.time.Duration;

/**
 * A duration in seconds as messages and logs write it, before {@code " s"}: {@code 30}, {@code 1.5},
 * {@code 0.25}. Never {@link Duration#toSeconds()}, which writes a setting of 500ms as 0.
 */
public final class Seconds {
  private Seconds() {}

  /** {@code d} in seconds, to the nanosecond, without trailing zeros: {@code 30}, {@code 0.5}, {@code 0.000001}. */
  public static String of(Duration d) {
    return BigDecimal.valueOf(d.getSeconds()).add(BigDecimal.valueOf(d.getNano(), 9)).stripTrailingZeros().toPlainString();
  }
}
