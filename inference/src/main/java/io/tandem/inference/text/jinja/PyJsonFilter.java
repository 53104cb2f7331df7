package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import java.lang.reflect.Array;
import java.util.Collection;
import java.util.Map;

/**
 * The {@code tojson} filter as Hugging Face defines it for chat templates: Python's
 * {@code json.dumps(x, ensure_ascii=False, indent=indent, sort_keys=False)}, whose
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
    return dumps(var, indent instanceof Number n ? Integer.valueOf(n.intValue()) : null);
  }

  /** Python's {@code json.dumps(value, ensure_ascii=False, indent=indent)}. */
  public static String dumps(Object value, Integer indent) {
    StringBuilder out = new StringBuilder();
    write(out, value, indent, 0);
    return out.toString();
  }

  private static void write(StringBuilder out, Object v, Integer indent, int depth) {
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
      for (Map.Entry<?, ?> e : map.entrySet()) {
        if (!first) out.append(indent == null ? ", " : ",");
        first = false;
        newline(out, indent, depth + 1);
        string(out, String.valueOf(e.getKey()));
        out.append(": ");
        write(out, e.getValue(), indent, depth + 1);
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
        write(out, items[i], indent, depth + 1);
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

  private static String pyFloat(double d) {
    if (Double.isNaN(d)) return "NaN";
    if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
    if (d == Math.rint(d) && Math.abs(d) < 1e16) return String.format("%.1f", d);
    return Double.toString(d);
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
