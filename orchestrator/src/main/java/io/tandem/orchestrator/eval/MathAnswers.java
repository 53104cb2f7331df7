package io.tandem.orchestrator.eval;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Final answers of MATH-style solutions: the last {@code \boxed{...}} of a response, and the
 * comparison of two answers after the normalisation of the MATH dataset's own evaluation (Hendrycks'
 * {@code strip_string}), plus numeric equality of closed-form values ({@code 0.5 = \frac{1}{2}},
 * {@code \sqrt{8} = 2\sqrt{2}}, mixed numbers {@code 1\frac{4}{5} = \frac{9}{5}}), tuples and
 * intervals element by element, and lists and sets in any order.
 *
 * <p>Not the paper's grader: its harness (SkyThought's math handler) compares with Qwen2.5-Math's
 * {@code math_equal}, which also takes numbers within a relative 1e-4, a percentage as its value
 * over 100, and expressions equal by sympy ({@code 3+2x = 2x+3}), and reads mixed numbers as its
 * LaTeX parser does; so the same answers may score differently there. Nor is it {@code
 * strip_string} alone: a hedge ({@code 5\text{ or }7}) is not its first answer here.
 */
public final class MathAnswers {

  private MathAnswers() {}

  /**
   * The content of the last {@code \boxed{...}} or {@code \fbox{...}} (nested braces kept), or of
   * {@code \boxed 5} (up to the next {@code $} or the end); empty if there is none or it is unclosed.
   */
  public static Optional<String> lastBoxed(String response) {
    int at = Math.max(response.lastIndexOf("\\boxed"), response.lastIndexOf("\\fbox"));
    if (at < 0) return Optional.empty();
    int i = at + (response.startsWith("\\boxed", at) ? 6 : 5);
    int afterSpaces = i;
    while (afterSpaces < response.length() && Character.isWhitespace(response.charAt(afterSpaces))) afterSpaces++;
    // "\boxed 5" is TeX's argument without braces; "\boxed {5}" is the braced one after a space or a line break
    // (tester61c: it was "{5}").
    if (i < response.length() && response.charAt(i) == ' ' && afterSpaces < response.length()
        && response.charAt(afterSpaces) != '{') {
      String rest = response.substring(i + 1);
      int dollar = rest.indexOf('$');
      return Optional.of((dollar >= 0 ? rest.substring(0, dollar) : rest).trim());
    }
    while (i < response.length() && Character.isWhitespace(response.charAt(i))) i++;
    if (i >= response.length() || response.charAt(i) != '{') return Optional.empty();
    int depth = 0;
    for (int j = i; j < response.length(); j++) {
      char c = response.charAt(j);
      if (c == '{') depth++;
      else if (c == '}' && --depth == 0) return Optional.of(response.substring(i + 1, j));
    }
    return Optional.empty();
  }

  /** Whether {@code response}'s last boxed answer matches {@code gold} (a MATH500 {@code answer}). */
  public static boolean isCorrect(String response, String gold) {
    return lastBoxed(response).map(a -> equivalent(a, gold)).orElse(false);
  }

  /** Whether two answers are the same after normalisation, numerically, or element by element. */
  public static boolean equivalent(String a, String b) {
    return equivalent(a, b, 0);
  }

  /** Tuples inside tuples deeper than this are not compared: an answer is no such thing, and each level recurses. */
  private static final int MAX_NESTING = 50;

  private static boolean equivalent(String a, String b, int nesting) {
    if (nesting > MAX_NESTING) return false;
    String x = normalize(a);
    String y = normalize(b);
    if (x.equals(y)) return true;
    // Whole numbers past 2^53 are not doubles: 9007199254740993 is not 9007199254740992 (tester61c).
    if (INTEGER.matcher(x).matches() && INTEGER.matcher(y).matches()) return new BigInteger(x).equals(new BigInteger(y));
    // A word answer is one whatever its case: \text{Ellipse} is \text{ellipse}.
    if (WORDS.matcher(x).matches() && x.equalsIgnoreCase(y)) return true;
    Double vx = LatexNumber.value(x);
    Double vy = LatexNumber.value(y);
    if (vx != null && vy != null) return close(vx, vy);
    List<String> ex = elements(x);
    List<String> ey = elements(y);
    if (ex != null && ey != null && ex.size() == ey.size()) {
      // A list without brackets (MATH's "enter all the solutions, separated by commas") and a set are one thing in any
      // order (tester61e: \{3,5,7\} against 3, 5, 7); a tuple and an interval are ordered, and so are named values
      // (x=2, y=1 is not x=1, y=2: each element's name is dropped below).
      boolean unordered = UNORDERED.contains(brackets(x)) && UNORDERED.contains(brackets(y)) && !x.contains("=")
          && !y.contains("=");
      if (unordered) return sameInSomeOrder(ex, ey, nesting);
      if (!brackets(x).equals(brackets(y))) return false;
      for (int i = 0; i < ex.size(); i++) {
        if (!equivalent(ex.get(i), ey.get(i), nesting + 1)) return false;
      }
      return true;
    }
    return false;
  }

  /** The brackets of an unordered collection: none (a bare list) or a set's. */
  private static final java.util.Set<String> UNORDERED = java.util.Set.of("", "{}");

  /** Whether each of {@code xs} is equivalent to a different one of {@code ys} (as many of each). */
  private static boolean sameInSomeOrder(List<String> xs, List<String> ys, int nesting) {
    boolean[] used = new boolean[ys.size()];
    for (String e : xs) {
      int match = -1;
      for (int j = 0; j < ys.size() && match < 0; j++) {
        if (!used[j] && equivalent(e, ys.get(j), nesting + 1)) match = j;
      }
      if (match < 0) return false;
      used[match] = true;
    }
    return true;
  }

  /**
   * Whether two values of closed forms are one: whole numbers exactly, others within the rounding of
   * their computation (1e-9 of the larger). Not a tolerance for answers rounded otherwise: a
   * relative 1e-6 with an absolute floor of 1e-6 took 1000001 for 1000000 and 10^{-7} for 0
   * (tester51c), answers Hendrycks' exact comparison calls wrong.
   */
  private static boolean close(double a, double b) {
    if (a == Math.rint(a) && b == Math.rint(b) && Math.abs(a) < 0x1p53 && Math.abs(b) < 0x1p53) return a == b;
    return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
  }

  private static final Pattern UNIT_SUFFIX = Pattern.compile(
      "^(.*?[0-9}).])\\s*\\\\(?:text|mbox|mathrm|textnormal)\\{(\\s*[a-zA-Z][a-zA-Z ./]*)\\}(?:\\^\\{?[23]\\}?)?$");
  /** A unit's words that make it a hedge between answers instead. */
  private static final Pattern HEDGE = Pattern.compile("(?i)\\b(or|and|either|maybe|not)\\b");

  private static final Pattern TEXT_WRAP = Pattern.compile("\\\\(?:text|textbf|textnormal|mbox|mathrm)\\{([^{}]*)\\}");
  /** A backslash and a space, the backslash no second one of a row break ({@code \\}). */
  private static final Pattern CONTROL_SPACE = Pattern.compile("(?<!\\\\)((?:\\\\\\\\)*)\\\\ ");
  private static final Pattern THOUSANDS = Pattern.compile("^-?\\d{1,3}(,\\d{3})+(\\.\\d+)?$");
  private static final Pattern CHOICE = Pattern.compile("^\\(([A-Ea-e])\\)$");
  private static final Pattern SHORT_LHS = Pattern.compile("^\\\\?[a-zA-Z]{1,2}(_\\{?\\w+\\}?)?$");
  private static final Pattern INTEGER = Pattern.compile("^-?\\d+$");
  /** A word, three letters at least: {@code ab} and {@code AB} are products of variables, not words. */
  private static final Pattern WORDS = Pattern.compile("^[a-zA-Z]{3,}$");
  /** A whole number written before a fraction of whole numbers: a mixed number, as MATH writes them ({@code 137\frac{1}{2}}). */
  private static final Pattern MIXED = Pattern.compile("^(-?)(\\d+)\\\\frac\\{(\\d+)\\}\\{(\\d+)\\}$");
  /** "x \\in [-2,7]": the set the answer names. */
  private static final Pattern MEMBER_OF = Pattern.compile("^\\\\?[a-zA-Z]{1,2}\\s*\\\\in\\s*(.+)$");
  /** A sub- or superscript of one character in braces, {@code 4210_{5}}, is the same without them. */
  private static final Pattern ONE_CHAR_SCRIPT = Pattern.compile("([_^])\\{([^{}\\\\])\\}");

  /** The answer in canonical form: what two equal answers, written differently, both become. */
  public static String normalize(String answer) {
    // LaTeX's control space, "\ ", is a space; the "\ " that ends a row break, "\\ ", is not (tester51c: with the row
    // break turned into "\" first, "1 \\ 2" read as 12 and "1\\2" did not, so a vector was wrong written with spaces).
    // Before the trim, which would leave the backslash of a control space at the end ("5\ " as "5\": tester51f).
    String s = CONTROL_SPACE.matcher(answer).replaceAll("$1 ").trim();
    s = s.replace("\n", "").replace("\\!", "");
    s = s.replace("\\\\", "\\");
    s = s.replace("\\displaystyle", "");
    s = s.replace("tfrac", "frac").replace("dfrac", "frac");
    s = s.replace("\\left", "").replace("\\right", "");
    // \left\{ leaves \{ ... \} for sets; braces as plain grouping otherwise.
    s = s.replace("^{\\circ}", "").replace("^\\circ", "").replace("\\circ", "").replace("°", "");
    s = s.replace("\\$", "").replace("$", "");
    s = s.replace("\\%", "").replace("%", "");
    s = s.replace("{,}", ",");
    s = s.replace("\\,", "").replace("\\;", "").replace("\\:", "").replace("~", " ");
    s = s.trim();
    // A sentence's end after the answer ("5.4\text{ cents}.", "\quad"), before the unit is looked for (tester61e).
    s = withoutSentenceEnd(s);
    // "\text{ cm}" and the like after a number: units (Hendrycks' _remove_right_units), when they are the answer's
    // end and words alone: "5\text{ or }7" and "5\text{ or 7}" are hedges, not 5 in some unit (tester61c, tester61e).
    Matcher unit = UNIT_SUFFIX.matcher(s);
    if (unit.matches() && !HEDGE.matcher(unit.group(2)).find()) s = unit.group(1).trim();
    for (Matcher m = TEXT_WRAP.matcher(s); m.find(); m = TEXT_WRAP.matcher(s)) {
      s = s.substring(0, m.start()) + m.group(1) + s.substring(m.end());
    }
    while (s.endsWith(".") && s.length() > 1) s = s.substring(0, s.length() - 1);
    s = s.trim();
    if (s.startsWith(".")) s = "0" + s;
    s = s.replace(" .", " 0.").replace("{.", "{0.");
    // "x = 5", "k=-3": the value, when the left side is a short name.
    int eq = s.indexOf('=');
    if (eq > 0 && s.indexOf('=', eq + 1) < 0 && SHORT_LHS.matcher(s.substring(0, eq).trim()).matches()) {
      s = s.substring(eq + 1).trim();
    }
    Matcher member = MEMBER_OF.matcher(s);
    if (member.matches()) s = member.group(1).trim();
    s = fixSqrt(s);
    s = s.replace(" ", "");
    s = fixFracs(s);
    s = ONE_CHAR_SCRIPT.matcher(s).replaceAll("$1$2");
    Matcher mixed = MIXED.matcher(s);
    if (mixed.matches()) {
      BigInteger whole = new BigInteger(mixed.group(2)), numerator = new BigInteger(mixed.group(3));
      BigInteger denominator = new BigInteger(mixed.group(4));
      s = "\\frac{" + mixed.group(1) + whole.multiply(denominator).add(numerator) + "}{" + denominator + "}";
    }
    if (s.equals("0.5")) s = "\\frac{1}{2}";
    s = fixSlash(s);
    if (THOUSANDS.matcher(s).matches()) s = s.replace(",", "");
    Matcher choice = CHOICE.matcher(s);
    if (choice.matches()) s = choice.group(1).toUpperCase();
    s = s.replace("\\dfrac", "\\frac");
    return s;
  }

  /**
   * {@code s} without what may end an answer written as a sentence: full stops, commas, TeX's
   * {@code \quad} and {@code \qquad}, and spaces (a loop: a regular expression's repetition recurses
   * in Java, and an answer of 50,000 of them would overflow the stack).
   */
  static String withoutSentenceEnd(String s) {
    int end = s.length();
    for (boolean more = true; more; ) {
      more = false;
      while (end > 0 && (Character.isWhitespace(s.charAt(end - 1)) || s.charAt(end - 1) == '.' || s.charAt(end - 1) == ',')) {
        end--;
        more = true;
      }
      for (String space : new String[] {"\\qquad", "\\quad"}) {
        if (s.startsWith(space, end - space.length()) && end >= space.length()) {
          end -= space.length();
          more = true;
        }
      }
    }
    return s.substring(0, end);
  }

  /** {@code \sqrt2} becomes {@code \sqrt{2}}, {@code \sqrt 3x} becomes {@code \sqrt{3}x}. */
  static String fixSqrt(String s) {
    StringBuilder out = new StringBuilder();
    int i = 0;
    while (i < s.length()) {
      if (s.startsWith("\\sqrt", i)) {
        out.append("\\sqrt");
        i += 5;
        while (i < s.length() && s.charAt(i) == ' ') i++;
        if (i < s.length() && s.charAt(i) != '{' && s.charAt(i) != '[' && s.charAt(i) != '\\') {
          out.append('{').append(s.charAt(i)).append('}');
          i++;
        }
        continue;
      }
      out.append(s.charAt(i++));
    }
    return out.toString();
  }

  /** {@code \frac12} becomes {@code \frac{1}{2}}, {@code \frac1{72}} becomes {@code \frac{1}{72}}. */
  static String fixFracs(String s) {
    StringBuilder out = new StringBuilder();
    int i = 0;
    while (i < s.length()) {
      if (s.startsWith("\\frac", i)) {
        out.append("\\frac");
        i += 5;
        for (int arg = 0; arg < 2 && i < s.length(); arg++) {
          char c = s.charAt(i);
          if (c == '{') {
            int end = closing(s, i);
            if (end < 0) break;
            out.append(s, i, end + 1);
            i = end + 1;
          } else if (c != '\\') {
            out.append('{').append(c).append('}');
            i++;
          } else {
            break;
          }
        }
        continue;
      }
      out.append(s.charAt(i++));
    }
    return out.toString();
  }

  /** {@code 3/4} (two integers, nothing else) becomes {@code \frac{3}{4}}. */
  static String fixSlash(String s) {
    Matcher m = Pattern.compile("^(-?\\d+)/(\\d+)$").matcher(s);
    return m.matches() ? "\\frac{" + m.group(1) + "}{" + m.group(2) + "}" : s;
  }

  /** The opening and closing bracket of a tuple, interval or set; empty for a bare list. */
  private static String brackets(String s) {
    if (s.startsWith("\\{")) return "{}";
    char first = s.charAt(0);
    char last = s.charAt(s.length() - 1);
    return "([".indexOf(first) >= 0 && ")]".indexOf(last) >= 0 ? "" + first + last : "";
  }

  static int closing(String s, int open) {
    int depth = 0;
    for (int j = open; j < s.length(); j++) {
      char c = s.charAt(j);
      if (c == '{') depth++;
      else if (c == '}' && --depth == 0) return j;
    }
    return -1;
  }

  /**
   * The comma-separated elements of a tuple, interval or set ({@code (1,2)}, {@code [0,\infty)},
   * {@code \{1,2\}}), or null if {@code s} is not bracketed or has one element.
   */
  static List<String> elements(String s) {
    if (s.length() < 2) return null;
    String inner;
    if (s.startsWith("\\{") && s.endsWith("\\}")) inner = s.substring(2, s.length() - 2);
    else if ("([".indexOf(s.charAt(0)) >= 0 && ")]".indexOf(s.charAt(s.length() - 1)) >= 0)
      inner = s.substring(1, s.length() - 1);
    else if (s.contains(",") && !s.contains("(") && !s.contains("[")) inner = s; // "1,2,3" unbracketed lists
    else return null;
    List<String> parts = new ArrayList<>();
    int depth = 0;
    int start = 0;
    for (int i = 0; i < inner.length(); i++) {
      char c = inner.charAt(i);
      if (c == '{' || c == '(' || c == '[') depth++;
      else if (c == '}' || c == ')' || c == ']') depth--;
      else if (c == ',' && depth == 0) {
        parts.add(inner.substring(start, i));
        start = i + 1;
      }
    }
    parts.add(inner.substring(start));
    return parts.size() < 2 ? null : parts;
  }
}
