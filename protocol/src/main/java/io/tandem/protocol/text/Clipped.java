package io.tandem.protocol.text;

/**
 * What a message quotes of a value a client or an operator sent: its first 64 characters, then
 * {@code ...}, so that an answer or a log line never echoes a megabyte back.
 */
public final class Clipped {
  /** The most characters quoted. */
  public static final int LENGTH = 64;

  private Clipped() {}

  /**
   * {@code s} as quoted: itself when short, else its first {@value #LENGTH} characters and {@code
   * ...} (one fewer where the cut would split a surrogate pair, so that an emoji is not cut to
   * half a character); "null" for null.
   */
  public static String of(String s) {
    if (s == null) return "null";
    if (s.length() <= LENGTH) return s;
    int end = Character.isHighSurrogate(s.charAt(LENGTH - 1)) ? LENGTH - 1 : LENGTH;
    return s.substring(0, end) + "...";
  }

  /**
   * {@code s} as a JSON string, clipped as {@link #of}, with every character that shows as nothing or
   * ends a line written as its escape ({@code \\n}, {@code \\r}, {@code \\t} or {@code \\uXXXX}): the controls JSON escapes (below U+0020) and
   * those it lets stand raw (U+007F to U+009F: U+0085 is a line break to some readers), U+2028 and
   * U+2029, and format characters (U+200B, U+FEFF); so a message names the character it refuses
   * rather than printing it.
   */
  public static String visible(String s) {
    if (s == null) return "null";
    StringBuilder out = new StringBuilder("\"");
    of(s).codePoints().forEach(c -> {
      int type = Character.getType(c);
      if (c == '"' || c == '\\') out.append('\\').appendCodePoint(c);
      else if (c == '\n') out.append("\\n");
      else if (c == '\r') out.append("\\r");
      else if (c == '\t') out.append("\\t");
      else if (Character.isISOControl(c) || type == Character.LINE_SEPARATOR || type == Character.PARAGRAPH_SEPARATOR
          || type == Character.FORMAT)
        out.append(String.format("\\u%04X", c));
      else out.appendCodePoint(c);
    });
    return out.append('"').toString();
  }

  /**
   * A JSON value as quoted: written compactly, as Jackson's {@code toString} writes it, but no
   * further than {@value #LENGTH} characters, then {@code ...}; so that a list nested a million deep
   * (which {@code toString} recurses into until the stack overflows) or a megabyte of it costs
   * no more than a short one. "null" for null.
   */
  public static String json(com.fasterxml.jackson.databind.JsonNode v) {
    if (v == null) return "null";
    StringBuilder out = new StringBuilder();
    write(v, out);
    return of(out.toString());
  }

  /** Writes {@code v} into {@code out} until it holds more than {@value #LENGTH} characters: each level of nesting writes one first, so the recursion stays that shallow. */
  private static void write(com.fasterxml.jackson.databind.JsonNode v, StringBuilder out) {
    if (out.length() > LENGTH) return;
    if (v.isArray()) {
      out.append('[');
      for (int i = 0; i < v.size() && out.length() <= LENGTH; i++) {
        if (i > 0) out.append(',');
        write(v.get(i), out);
      }
      out.append(']');
    } else if (v.isObject()) {
      out.append('{');
      boolean first = true;
      for (var fields = v.fields(); fields.hasNext() && out.length() <= LENGTH; first = false) {
        var field = fields.next();
        if (!first) out.append(',');
        out.append(com.fasterxml.jackson.databind.node.TextNode.valueOf(field.getKey())).append(':');
        write(field.getValue(), out);
      }
      out.append('}');
    } else {
      out.append(v);
    }
  }
}
