package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Collection;
import java.util.Map;

/**
 * The {@code tojson} filter as Hugging Face defines it for chat templates: Python's
 * {@code json.dumps(x, ensure_ascii=False, indent=indent, sort_keys=sort_keys)}, whose
 * {@code ", "} and {@code ": "} separators differ from Jinjava's compact JSON.
 */
public final class PyJsonFilter implements Filter {

  @Override
  public String getName() {
    return "tojson";
  }

  @Override
  public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
    Integer indent = args.length > 0 && args[0] != null ? Integer.valueOf(args[0].trim()) : null;
    return dumps(var, indent);
  }

  @Override
  public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
    Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
    Object sortKeys = kwargs.get("sort_keys");
    return dumps(var, indent instanceof Number n ? Integer.valueOf(n.intValue()) : null,
        sortKeys instanceof Boolean b && b);
  }

  /** Python's {@code json.dumps(value, ensure_ascii=False, indent=indent)}. */
  public static String dumps(Object value, Integer indent) {
    return dumps(value, indent, false);
  }

  /** Python's {@code json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=sortKeys)}. */
  public static String dumps(Object value, Integer indent, boolean sortKeys) {
    StringBuilder out = new StringBuilder();
    write(out, value, indent, 0, sortKeys);
    return out.toString();
  }

  private static void write(StringBuilder out, Object v, Integer indent, int depth, boolean sortKeys) {
    if (v == null) {
      out.append("null");
    } else if (v instanceof Boolean b) {
      out.append(b ? "true" : "false");
    } else if (v instanceof Double || v instanceof Float) {
      out.append(pyFloat(((Number) v).doubleValue()));
    } else if (v instanceof Number n) {
      out.append(n.toString());
    } else if (v instanceof Map<?, ?> map) {
      if (map.isEmpty()) {
        out.append("{}");
        return;
      }
      out.append('{');
      boolean first = true;
      Iterable<? extends Map.Entry<?, ?>> entries = map.entrySet();
      if (sortKeys) {
        java.util.List<Map.Entry<?, ?>> sorted = new java.util.ArrayList<>(map.entrySet());
        sorted.sort(java.util.Comparator.comparing(e -> String.valueOf(e.getKey())));
        entries = sorted;
      }
      for (Map.Entry<?, ?> e : entries) {
        if (!first) out.append(indent == null ? ", " : ",");
        first = false;
        newline(out, indent, depth + 1);
        string(out, String.valueOf(e.getKey()));
        out.append(": ");
        write(out, e.getValue(), indent, depth + 1, sortKeys);
      }
      newline(out, indent, depth);
      out.append('}');
    } else if (v instanceof Collection<?> || v.getClass().isArray()) {
      Object[] items = v instanceof Collection<?> c ? c.toArray() : boxed(v);
      if (items.length == 0) {
        out.append("[]");
        return;
      }
      out.append('[');
      for (int i = 0; i < items.length; i++) {
        if (i > 0) out.append(indent == null ? ", " : ",");
        newline(out, indent, depth + 1);
        write(out, items[i], indent, depth + 1, sortKeys);
      }
      newline(out, indent, depth);
      out.append(']');
    } else {
      string(out, v.toString());
    }
  }

  private static Object[] boxed(Object array) {
    Object[] out = new Object[Array.getLength(array)];
    for (int i = 0; i < out.length; i++) out[i] = Array.get(array, i);
    return out;
  }

  private static void newline(StringBuilder out, Integer indent, int depth) {
    if (indent == null) return;
    out.append('\n');
    out.append(" ".repeat(indent * depth));
  }

  /**
   * Python's {@code repr} of a float, as {@code json.dumps} writes it: the shortest digits that read back as the same
   * double, in positional form ({@code 0.0001}, {@code 1e15} as {@code 1000000000000000.0}) while the decimal exponent
   * is from -4 to 15, else in exponent form with a sign and at least two digits ({@code 1e+16}, {@code 2.5e-05}), as
   * CPython's {@code float_repr_style 'short'}. Java's {@code Double.toString} switches to {@code 1.0E7} form at 10^7.
   */
  static String pyFloat(double d) {
    if (Double.isNaN(d)) return "NaN";
    if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
    if (d == 0) return 1 / d < 0 ? "-0.0" : "0.0";
    BigDecimal exact = new BigDecimal(d);
    BigDecimal shortest = exact;
    for (int digits = 1; digits <= 17; digits++) {
      shortest = exact.round(new MathContext(digits, RoundingMode.HALF_EVEN));
      if (shortest.doubleValue() == d) break;
    }
    String sign = shortest.signum() < 0 ? "-" : "";
    String unscaled = shortest.unscaledValue().abs().toString().replaceFirst("0+$", "");
    int exponent = shortest.precision() - shortest.scale() - 1; // of the first digit
    if (exponent < -4 || exponent >= 16) {
      String mantissa = unscaled.length() == 1 ? unscaled : unscaled.charAt(0) + "." + unscaled.substring(1);
      return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
    }
    String plain = shortest.abs().toPlainString();
    return sign + (plain.contains(".") ? plain.replaceFirst("0+$", "").replaceFirst("\\.$", ".0") : plain + ".0");
  }

  private static void string(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
          else out.append(c);
        }
      }
    }
    out.append('"');
  }
}
