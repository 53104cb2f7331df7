package io.tandem.inference.text.jinja;

import java.lang.reflect.Array;
import java.util.Collection;
import java.util.Map;

/**
 * Python's {@code repr} of the values a template prints inside a list or dict, as Jinja2 prints
 * {@code {{ [none, "it's", 1.5e7] }}}: {@code [None, "it's", 15000000.0]}. Jinjava's Python-like printing wrote
 * {@code null}, {@code true}, {@code 'it\'s'}, {@code 1.5E7} and split the braces closing a nested dict.
 */
final class PyRepr {

  private PyRepr() {}

  /** Whether {@code value} is a list, tuple or dict, which {@link #repr} writes. */
  static boolean isContainer(Object value) {
    return value instanceof Map<?, ?> || value instanceof Collection<?> || (value != null && value.getClass().isArray());
  }

  /** Python's {@code repr(value)}; an object that is not a Python value is written by {@code fallback}. */
  static String repr(Object value, java.util.function.Function<Object, String> fallback) {
    StringBuilder out = new StringBuilder();
    write(out, value, fallback);
    return out.toString();
  }

  private static void write(StringBuilder out, Object v, java.util.function.Function<Object, String> fallback) {
    if (v == null) {
      out.append("None");
    } else if (v instanceof Boolean b) {
      out.append(b ? "True" : "False");
    } else if (v instanceof Double || v instanceof Float) {
      out.append(str(((Number) v).doubleValue()));
    } else if (v instanceof Number n) {
      out.append(n);
    } else if (v instanceof CharSequence s) {
      string(out, s.toString());
    } else if (v instanceof Map<?, ?> map) {
      out.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        if (!first) out.append(", ");
        first = false;
        write(out, e.getKey(), fallback);
        out.append(": ");
        write(out, e.getValue(), fallback);
      }
      out.append('}');
    } else if (v instanceof Collection<?> || v.getClass().isArray()) {
      Object[] items = v instanceof Collection<?> c ? c.toArray() : boxed(v);
      boolean tuple = v instanceof PyTuple;
      out.append(tuple ? '(' : '[');
      for (int i = 0; i < items.length; i++) {
        if (i > 0) out.append(", ");
        write(out, items[i], fallback);
      }
      out.append(tuple ? (items.length == 1 ? ",)" : ")") : "]");
    } else {
      out.append(fallback.apply(v));
    }
  }

  /**
   * Python's {@code str(value)}, as {@code |string} and {@code ~} write a value: {@code True}, {@code 1e+21}, a list's
   * repr. Null is written empty, not {@code None}: it is also what Jinjava makes of an undefined value, which Jinja2
   * writes empty ({@code 'x' ~ tool.description} of a tool without one).
   */
  static String str(Object value, java.util.function.Function<Object, String> fallback) {
    if (value == null) return "";
    if (value instanceof Boolean b) return b ? "True" : "False";
    if (value instanceof Double || value instanceof Float) return str(((Number) value).doubleValue());
    if (value instanceof CharSequence text) return text.toString();
    if (isContainer(value)) return repr(value, fallback);
    return fallback.apply(value);
  }

  /** Python's {@code str} of a float: its {@code repr}, with {@code nan} and {@code inf}. */
  static String str(double d) {
    if (Double.isNaN(d)) return "nan";
    if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
    return PyJsonFilter.pyFloat(d);
  }

  private static Object[] boxed(Object array) {
    Object[] out = new Object[Array.getLength(array)];
    for (int i = 0; i < out.length; i++) out[i] = Array.get(array, i);
    return out;
  }

  /**
   * Python's string repr: in single quotes, or double quotes when the text has a single quote and no double one;
   * backslash, the quote, {@code \n}, {@code \r}, {@code \t} escaped, and characters Python does not print
   * ({@code str.isprintable}) as <code>&#92;xNN</code>, <code>&#92;uNNNN</code> or <code>&#92;UNNNNNNNN</code>.
   */
  private static void string(StringBuilder out, String s) {
    char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
    out.append(quote);
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      i += Character.charCount(cp);
      if (cp == quote || cp == '\\') out.append('\\').appendCodePoint(cp);
      else if (cp == '\n') out.append("\\n");
      else if (cp == '\r') out.append("\\r");
      else if (cp == '\t') out.append("\\t");
      else if (printable(cp)) out.appendCodePoint(cp);
      else if (cp < 0x100) out.append(String.format("\\x%02x", cp));
      else if (cp < 0x10000) out.append(String.format("\\u%04x", cp));
      else out.append(String.format("\\U%08x", cp));
    }
    out.append(quote);
  }

  private static boolean printable(int cp) {
    if (cp == ' ') return true;
    return switch (Character.getType(cp)) {
      case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE, Character.UNASSIGNED,
          Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR, Character.SPACE_SEPARATOR -> false;
      default -> true;
    };
  }
}
