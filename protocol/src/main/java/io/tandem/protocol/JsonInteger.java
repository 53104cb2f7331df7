package io.tandem.protocol;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The one rule for a JSON value where an integer is expected (a request's {@code seed}, {@code
 * max_tokens}, token ids, the paper's {@code max_target_tokens}), as vLLM's pydantic models read an
 * {@code int} in lax mode: an integer, or a number with no fractional part ({@code 2.0} and {@code
 * 2e3} are 2 and 2000); not a fraction ({@code 2.5}), a string or a boolean.
 */
public final class JsonInteger {

  /** Whether {@code v} is an integer by this rule. */
  public static boolean is(JsonNode v) {
    if (v == null || !v.isNumber()) return false;
    if (v.isIntegralNumber()) return true;
    if ((v.isDouble() || v.isFloat()) && !Double.isFinite(v.doubleValue())) return false;
    return v.decimalValue().stripTrailingZeros().scale() <= 0;
  }

  /** {@code v} as a long; null when it is not an integer by this rule, or is one beyond a long's range. */
  public static Long asLong(JsonNode v) {
    if (!is(v)) return null;
    try {
      return v.isIntegralNumber() ? v.bigIntegerValue().longValueExact() : v.decimalValue().longValueExact();
    } catch (ArithmeticException e) {
      return null;
    }
  }

  /** {@code v} as an int; null when it is not an integer by this rule, or is one beyond an int's range. */
  public static Integer asInt(JsonNode v) {
    Long x = asLong(v);
    return x == null || x != x.intValue() ? null : x.intValue();
  }

  /**
   * A number as a message shows it: an integer in its digits as written, another in plain digits
   * where that stays short ({@code 7} for 7.0, {@code 1.5}, {@code 100000000000000000000} for 1e20),
   * else in scientific notation ({@code 1E+300}), never Java's {@code 1.0E20}; a value that is no
   * number as JSON writes it; either {@link io.tandem.protocol.text.Clipped clipped}.
   */
  public static String show(JsonNode v) {
    if (v == null) return "null";
    if (!v.isNumber()) return io.tandem.protocol.text.Clipped.json(v);
    if (v.isIntegralNumber()) return io.tandem.protocol.text.Clipped.of(v.asText());
    if ((v.isDouble() || v.isFloat()) && !Double.isFinite(v.doubleValue())) return "a number beyond a 64-bit float's range";
    java.math.BigDecimal d = v.decimalValue().stripTrailingZeros();
    String plain = d.toPlainString();
    return plain.length() <= 24 ? plain : d.toString();
  }

  private JsonInteger() {}
}
