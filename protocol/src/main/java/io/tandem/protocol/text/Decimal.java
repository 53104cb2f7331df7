package io.tandem.protocol.text;

/** A number written in decimal digits (JSON's, a setting's), as a 64-bit float reads it. */
public final class Decimal {
  private Decimal() {}

  /**
   * Whether {@code number}, a decimal number's text ({@code 1e-400}, {@code 0.5}), is not zero but
   * nearer to it than a double can be (about 4.9e-324), so that {@link Double#parseDouble} reads it
   * as 0: a value that would then mean something else (a time-out of none).
   *
   * @throws NumberFormatException when {@code number} is no number
   */
  public static boolean belowDouble(String number) {
    return Double.parseDouble(number) == 0 && notZero(number);
  }

  /** Whether {@code number}, a decimal number's text, is written with a digit other than 0 before its exponent: not 0. */
  public static boolean notZero(String number) {
    int e = Math.max(number.indexOf('e'), number.indexOf('E'));
    String digits = e < 0 ? number : number.substring(0, e);
    return digits.chars().anyMatch(c -> c >= '1' && c <= '9');
  }
}
