package io.tandem.inference.text.jinja;

/**
 * Rewrites the two pieces of Jinja2 syntax that Jinjava's expression parser reads differently,
 * before Jinjava sees the template.
 *
 * <ul>
 *   <li>Slices: Jinjava's grammar has none, yet Hugging Face chat templates use them (Qwen3
 *       iterates {@code messages[::-1]}). {@code x[a:b:c]} becomes {@code x[__slice__(a, b, c)]}:
 *       keeping the subscript brackets leaves precedence as written, and {@link PythonResolver}
 *       applies the {@link PySlice}.
 *   <li>Keyword arguments: Jinjava parses {@code name=} as an operator at the precedence of
 *       {@code +}, so {@code namespace(i=messages|length - 1)} would subtract 1 from the named
 *       parameter itself. Each keyword value is wrapped in parentheses.
 * </ul>
 *
 * A tag ends where Jinja2's lexer ends it, at the first closing delimiter outside brackets; the brace closing a dict
 * within the code is kept apart from a brace after it, as the two would end the tag for Jinjava's tokenizer
 * ({@code {{ {'a': {'b': 2}}['a'] }}}).
 *
 * <p>Only code inside {@code {{ }}} and {@code {% %}} is touched, never string literals or text;
 * besides, {@code lstrip_blocks} is applied here (see {@link #lstripBlock}).
 */
public final class PythonSyntax {

  static final String SLICE_FUNCTION = "__slice__";

  private PythonSyntax() {}

  /** Returns the template with every slice subscript in its code rewritten. */
  public static String rewrite(String template) {
    StringBuilder out = new StringBuilder(template.length() + 64);
    int i = 0;
    int n = template.length();
    int textStart = 0; // where in `out` the current run of template text began
    while (i < n) {
      int open = nextTagOpening(template, i);
      if (open < 0) {
        out.append(template, i, n);
        break;
      }
      out.append(template, i, open);
      char kind = template.charAt(open + 1);
      boolean keepIndent = open + 2 < n && template.charAt(open + 2) == '+';
      if (kind != '{' && !keepIndent) lstripBlock(out, textStart);
      if (kind == '#') {
        int end = template.indexOf("#}", open + 2);
        int stop = end < 0 ? n : end + 2;
        out.append(template, open, stop);
        i = stop;
        textStart = out.length();
        continue;
      }
      out.append(template, open, open + 2);
      String closing = kind == '{' ? "}}" : "%}";
      int close = findClosing(template, open + 2, closing);
      if (close < 0) { // unterminated tag: leave it for the parser to report
        out.append(template, open + 2, n);
        break;
      }
      String code = template.substring(open + 2, close);
      if (kind == '%' && isRawStart(code)) {
        int end = template.indexOf("endraw", close);
        int endTag = end < 0 ? n : template.indexOf("%}", end);
        int stop = endTag < 0 ? n : endTag + 2;
        out.append(template, open + 2, stop);
        i = stop;
        textStart = out.length();
        continue;
      }
      // A macro's signature is Jinjava's to read as it is: its defaults wrapped as keyword arguments are ((false) where
      // false was) no longer a parameter list it reads (tester60f: gpt-oss's template failed every request).
      out.append(separateBraces(kind == '%' && isMacro(code) ? code : rewriteCode(code))).append(closing);
      i = close + 2;
      textStart = out.length();
    }
    return out.toString();
  }

  /**
   * Jinja2's {@code lstrip_blocks}: spaces and tabs between the start of a line and a block tag
   * or comment are dropped. Jinjava's own option also strips them after an expression on the same
   * line ({@code {{ x }} {% endfor %}} loses its space), so Tandem does it here instead.
   */
  private static void lstripBlock(StringBuilder out, int textStart) {
    int j = out.length();
    while (j > textStart && (out.charAt(j - 1) == ' ' || out.charAt(j - 1) == '\t')) j--;
    boolean atLineStart = j == 0 || (j > textStart && out.charAt(j - 1) == '\n');
    if (atLineStart) out.setLength(j);
  }

  private static boolean isRawStart(String code) {
    String s = code.strip();
    if (s.startsWith("-")) s = s.substring(1).strip();
    return s.equals("raw") || s.startsWith("raw ") || s.startsWith("raw-");
  }

  /** Index of the next {@code {{}, {@code {%} or {@code {#}. */
  private static int nextTagOpening(String t, int from) {
    int i = from;
    while (true) {
      int brace = t.indexOf('{', i);
      if (brace < 0 || brace + 1 >= t.length()) return -1;
      char c = t.charAt(brace + 1);
      if (c == '{' || c == '%' || c == '#') return brace;
      i = brace + 1;
    }
  }

  /**
   * Index of the closing delimiter, ignoring any inside string literals or brackets: as Jinja2's lexer balances
   * brackets, the two braces ending a nested dict ({@code {{ {'a': {'b': 2}}['a'] }}}) do not close the tag.
   */
  private static int findClosing(String t, int from, String closing) {
    int i = from;
    int depth = 0;
    while (i < t.length()) {
      char c = t.charAt(i);
      if (c == '\'' || c == '"') {
        i = skipString(t, i);
        continue;
      }
      if (depth == 0 && t.startsWith(closing, i)) return i;
      if (c == '(' || c == '[' || c == '{') depth++;
      else if ((c == ')' || c == ']' || c == '}') && depth > 0) depth--;
      i++;
    }
    return -1;
  }

  /**
   * {@code code} with a space between two closing braces, and after a closing brace that ends it: Jinjava's tokenizer
   * would take the two braces for the end of the tag.
   */
  private static String separateBraces(String code) {
    StringBuilder out = new StringBuilder(code.length() + 4);
    int i = 0;
    while (i < code.length()) {
      char c = code.charAt(i);
      if (c == '\'' || c == '"') {
        int end = skipString(code, i);
        out.append(code, i, end);
        i = end;
        continue;
      }
      out.append(c);
      if (c == '}' && (i + 1 == code.length() || code.charAt(i + 1) == '}')) out.append(' ');
      i++;
    }
    return out.toString();
  }

  /** Whether a statement's code is a {@code macro} tag's. */
  private static boolean isMacro(String code) {
    String c = code.strip();
    if (c.startsWith("-") || c.startsWith("+")) c = c.substring(1).strip();
    return c.startsWith("macro ") || c.startsWith("macro\t");
  }

  /** Index just past the string literal starting at {@code start}. */
  private static int skipString(String t, int start) {
    char quote = t.charAt(start);
    int i = start + 1;
    while (i < t.length()) {
      char c = t.charAt(i);
      if (c == '\\') {
        i += 2;
        continue;
      }
      if (c == quote) return i + 1;
      i++;
    }
    return t.length();
  }

  static String rewriteCode(String code) {
    StringBuilder out = new StringBuilder(code.length() + 32);
    int i = 0;
    while (i < code.length()) {
      char c = code.charAt(i);
      if (c == '\'' || c == '"') {
        int end = skipString(code, i);
        out.append(code, i, end);
        i = end;
        continue;
      }
      if (c == '(') {
        int close = matching(code, i);
        if (close > 0) {
          out.append('(').append(rewriteArguments(code.substring(i + 1, close))).append(')');
          i = close + 1;
          continue;
        }
      }
      if (c == '[' && isSubscript(code, i)) {
        int close = matching(code, i);
        if (close > 0) {
          String inner = code.substring(i + 1, close);
          int[] colons = topLevelColons(inner);
          if (colons.length > 0 && colons.length <= 2) {
            out.append('[').append(SLICE_FUNCTION).append('(');
            int start = 0;
            for (int part = 0; part < 3; part++) {
              if (part > 0) out.append(", ");
              String piece;
              if (part <= colons.length) {
                int end = part < colons.length ? colons[part] : inner.length();
                piece = inner.substring(start, end).strip();
                start = end + 1;
              } else {
                piece = "";
              }
              out.append(piece.isEmpty() ? "none" : rewriteCode(piece));
            }
            out.append(")]");
            i = close + 1;
            continue;
          }
        }
      }
      out.append(c);
      i++;
    }
    return out.toString();
  }

  /** A {@code [} right after a name, a call or another subscript indexes; elsewhere it is a list. */
  private static boolean isSubscript(String code, int bracket) {
    int j = bracket - 1;
    while (j >= 0 && Character.isWhitespace(code.charAt(j))) j--;
    if (j < 0) return false;
    char p = code.charAt(j);
    if (p == ')' || p == ']' || p == '\'' || p == '"') return true;
    if (!(Character.isLetterOrDigit(p) || p == '_')) return false;
    int k = j;
    while (k >= 0 && (Character.isLetterOrDigit(code.charAt(k)) || code.charAt(k) == '_')) k--;
    String word = code.substring(k + 1, j + 1);
    // `for x in [a, b]`, `if [..]`: a keyword before the bracket makes it a list literal.
    return !(word.equals("in") || word.equals("if") || word.equals("and") || word.equals("or")
        || word.equals("not") || word.equals("else") || word.equals("is") || word.equals("return"));
  }

  private static int matching(String code, int open) {
    int depth = 0;
    int i = open;
    while (i < code.length()) {
      char c = code.charAt(i);
      if (c == '\'' || c == '"') {
        i = skipString(code, i);
        continue;
      }
      if (c == '[' || c == '(' || c == '{') depth++;
      if (c == ']' || c == ')' || c == '}') {
        depth--;
        if (depth == 0) return closes(code.charAt(open), c) ? i : -1;
      }
      i++;
    }
    return -1;
  }

  private static boolean closes(char open, char close) {
    return (open == '[' && close == ']') || (open == '(' && close == ')') || (open == '{' && close == '}');
  }

  private static final java.util.regex.Pattern KEYWORD =
      java.util.regex.Pattern.compile("^(\\s*[A-Za-z_][A-Za-z0-9_]*\\s*=)(?!=)(.*)$", java.util.regex.Pattern.DOTALL);

  /** The inside of a call's parentheses, with each {@code name=value} made {@code name=(value)}. */
  private static String rewriteArguments(String inner) {
    int[] commas = topLevel(inner, ',');
    StringBuilder out = new StringBuilder(inner.length() + 8);
    int start = 0;
    for (int k = 0; k <= commas.length; k++) {
      int end = k < commas.length ? commas[k] : inner.length();
      String arg = inner.substring(start, end);
      java.util.regex.Matcher m = KEYWORD.matcher(arg);
      if (m.matches() && !m.group(2).isBlank()) {
        out.append(m.group(1)).append('(').append(rewriteCode(m.group(2))).append(')');
      } else {
        out.append(rewriteCode(arg));
      }
      if (k < commas.length) out.append(',');
      start = end + 1;
    }
    return out.toString();
  }

  private static int[] topLevelColons(String inner) {
    return topLevel(inner, ':');
  }

  private static int[] topLevel(String inner, char wanted) {
    int[] found = new int[inner.length()];
    int count = 0;
    int depth = 0;
    int i = 0;
    while (i < inner.length()) {
      char c = inner.charAt(i);
      if (c == '\'' || c == '"') {
        i = skipString(inner, i);
        continue;
      }
      if (c == '[' || c == '(' || c == '{') depth++;
      else if (c == ']' || c == ')' || c == '}') depth--;
      else if (c == wanted && depth == 0) found[count++] = i;
      i++;
    }
    return java.util.Arrays.copyOf(found, count);
  }
}
