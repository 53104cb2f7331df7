package io.tandem.orchestrator.eval;

/**
 * The value of a normalised LaTeX answer that is a closed-form number: integers and decimals,
 * {@code \frac}, {@code \sqrt} (and {@code \sqrt[n]}), {@code \pi}, powers, products (implicit,
 * {@code \cdot}, {@code \times}), quotients, sums and parentheses. Anything else (a variable, a
 * set, text) has no value, so that only numbers are compared numerically.
 */
final class LatexNumber {

  /**
   * Groups and signs nested deeper than this have no value: the parser recurses once per level, and a
   * model's answer of 3,000 parentheses overflowed the stack and ended a whole eval run (tester61e).
   */
  static final int MAX_DEPTH = 200;

  private final String s;
  private int i;
  private int depth;

  private LatexNumber(String s) {
    this.s = s;
  }

  /** The value, or null if {@code normalized} is not a closed-form number. */
  static Double value(String normalized) {
    if (normalized.isEmpty()) return null;
    LatexNumber p = new LatexNumber(normalized);
    try {
      double v = p.sum();
      return p.i == p.s.length() && Double.isFinite(v) ? v : null;
    } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
      return null;
    }
  }

  private double sum() {
    if (++depth > MAX_DEPTH) throw new IllegalArgumentException("nested deeper than " + MAX_DEPTH);
    try {
      return sumAtThisDepth();
    } finally {
      depth--;
    }
  }

  private double sumAtThisDepth() {
    double v = product();
    while (i < s.length()) {
      char c = s.charAt(i);
      if (c == '+') {
        i++;
        v += product();
      } else if (c == '-') {
        i++;
        v -= product();
      } else {
        break;
      }
    }
    return v;
  }

  private double product() {
    double v = unary();
    while (i < s.length()) {
      if (eat("\\cdot") || eat("\\times") || eat("*")) {
        v *= unary();
      } else if (eat("/") || eat("\\div")) {
        v /= unary();
      } else if (startsFactor()) {
        v *= power(); // implicit: 2\sqrt{2}, 3\pi
      } else {
        break;
      }
    }
    return v;
  }

  private double unary() {
    // Signs in a row ("--5") are read in a loop, not one call each: 50,000 of them overflowed the stack (tester61e).
    boolean negative = false;
    for (;;) {
      if (eat("-")) negative = !negative;
      else if (!eat("+")) break;
    }
    double v = power();
    return negative ? -v : v;
  }

  private double power() {
    double base = atom();
    if (eat("^")) {
      double exp = s.charAt(i) == '{' ? group('{', '}') : digit();
      return Math.pow(base, exp);
    }
    return base;
  }

  private boolean startsFactor() {
    char c = s.charAt(i);
    return Character.isDigit(c) || c == '(' || c == '{' || s.startsWith("\\frac", i) || s.startsWith("\\sqrt", i)
        || s.startsWith("\\pi", i);
  }

  private double atom() {
    char c = s.charAt(i);
    if (Character.isDigit(c) || c == '.') return number();
    if (c == '(') return group('(', ')');
    if (c == '{') return group('{', '}');
    if (eat("\\frac")) {
      double num = group('{', '}');
      return num / group('{', '}');
    }
    if (eat("\\sqrt")) {
      double n = 2;
      if (s.charAt(i) == '[') n = group('[', ']');
      return Math.pow(group('{', '}'), 1.0 / n);
    }
    if (eat("\\pi")) return Math.PI;
    throw new IllegalArgumentException("not a number at " + i);
  }

  private double group(char open, char close) {
    if (s.charAt(i) != open) throw new IllegalArgumentException("expected " + open);
    i++;
    double v = sum();
    if (s.charAt(i) != close) throw new IllegalArgumentException("expected " + close);
    i++;
    return v;
  }

  private double digit() {
    char c = s.charAt(i++);
    if (!Character.isDigit(c)) throw new IllegalArgumentException("expected a digit");
    return c - '0';
  }

  private double number() {
    int start = i;
    while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '.')) i++;
    return Double.parseDouble(s.substring(start, i));
  }

  private boolean eat(String token) {
    if (s.startsWith(token, i)) {
      i += token.length();
      return true;
    }
    return false;
  }
}
