package io.tandem.protocol.text;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A JSON text that does not parse, said as RFC 8259 would have it, not as Jackson words it (its
 * parser features to enable, its quote of the source, a class the value was "bound as"): where
 * the fault is and what it is, with what to write instead. One rule for every JSON Tandem reads:
 * request bodies, keys files, JSON Lines inputs, a checkpoint's config.json and safetensors header.
 */
public final class JsonSyntax {
  private JsonSyntax() {}

  /** A strict reader, to try whether a prefix or a mended copy of the text parses: one value, no duplicate keys. */
  private static final ObjectMapper MAPPER = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  /**
   * Jackson's "Unexpected character ('x' (code 120))" or "escape 'q' (code 113)": the character
   * quoted, which the parser has just read.
   */
  private static final Pattern QUOTED_CHAR = Pattern.compile("(?:\\(|escape )'(.)' \\(code [^)]*\\)\\)?");
  /** Jackson's "Unexpected close marker '}'": a closing bracket, also just read. */
  private static final Pattern CLOSER = Pattern.compile("^Unexpected close marker '(.)'");
  /** Jackson's "Non-standard token 'NaN'" and "Unrecognized token 'tru'": a word, read to its end. */
  private static final Pattern TOKEN = Pattern.compile("^(?:Non-standard|Unrecognized) token '([^']*)'");
  private static final Pattern CONTROL_CHAR = Pattern.compile("^Illegal (unquoted )?character \\(\\(CTRL-CHAR, code (\\d+)\\)\\)");
  /** Jackson's "Unexpected end-of-input: expected close marker for Object (start marker at [Source: ...; line: 1, column: 1])". */
  private static final Pattern END_BEFORE_CLOSE = Pattern.compile(
      "^Unexpected end-of-input: expected close marker for (Object|Array) \\(start marker at .*?line: (\\d+), column: (\\d+)\\]");
  /** Jackson's "Unexpected close marker '}': expected ']' (for Array starting at line 1, column 6)", its source taken out. */
  private static final Pattern MISMATCHED_CLOSER = Pattern.compile(
      "^Unexpected close marker '(.)': expected '(.)' \\(for (Object|Array) starting at line (\\d+), column (\\d+)\\)");
  private static final Pattern CLOSES_ROOT = Pattern.compile("^Unexpected close marker '(.)'.*\\(for root");

  /**
   * What is wrong with {@code text} where the parser stopped ({@code e}): {@code " (line L, column
   * C): what"}, the place 1-based and counted in characters, of the character at fault (Jackson 2.13
   * places an error after the character or word it read, and counts a character beyond U+FFFF as
   * two), and what in JSON's own terms (RFC 8259) where Jackson names its parser features, quotes
   * the source or, for a leading {@code +}, misnames the fault ("to follow minus sign").
   *
   * @param subject what the text is called where the message names it: {@code "body"} (a request's),
   *     {@code "file"}, {@code "header"}; {@code "keys file"} (API keys) quotes none of the text, as a
   *     word or member name at fault may be a key written without its quotes or in the wrong place
   */
  public static String of(JsonProcessingException e, String text, String subject) {
    return fault(e, text, subject, false);
  }

  /** {@link #of} for one line of a JSON Lines file, which is its own line 1: {@code " (column C): what"}. */
  public static String ofLine(JsonProcessingException e, String line) {
    return fault(e, line, "line", true);
  }

  private static String fault(JsonProcessingException e, String body, String subject, boolean columnOnly) {
    // A name of the document's kind for the examples: a request's, or any.
    String example = "body".equals(subject) ? "\"model\"" : "\"name\"";
    String original = e.getOriginalMessage() == null ? "" : e.getOriginalMessage();
    var loc = e.getLocation();
    int after = loc == null ? -1 : (int) Math.min(body.length(), Math.max(0, loc.getCharOffset()));
    Matcher quoted = QUOTED_CHAR.matcher(original);
    Matcher closer = CLOSER.matcher(original);
    Matcher token = TOKEN.matcher(original);
    String word = token.find() ? token.group(1) : null;
    boolean secret = "keys file".equals(subject);
    // In a keys file no word at fault is quoted: a key without its quotes reads as one, or as its first part up to a '-'
    // (tester51f: 'leakmark' of leakmark-0123...).
    String wordAtFault = word == null ? null : secret ? "a word (not shown here, in case it is a key)"
        : "'" + Clipped.of(word) + "'";
    char atFault = quoted.find() ? quoted.group(1).charAt(0) : closer.find() ? closer.group(1).charAt(0) : 0;
    int at = after;
    if (atFault != 0 && after >= 1 && body.charAt(after - 1) == atFault) at = after - 1; // just read: its own place
    if (word != null && after >= word.length() && body.startsWith(word, after - word.length()))
      at = after - word.length(); // the word's first character
    else if (word != null && !word.isEmpty()) // a word longer than Jackson quotes (256): back to where it begins
      while (at > 0 && Character.isJavaIdentifierPart(body.charAt(at - 1))) at--;
    int beforeAt = lastVisibleIndex(body, at);
    char before = beforeAt < 0 ? 0 : body.charAt(beforeAt);
    String what;
    Matcher m;
    if (original.startsWith("Duplicate field '")) {
      String name = original.substring("Duplicate field '".length(), Math.max("Duplicate field '".length(), original.lastIndexOf('\'')));
      int second = body.lastIndexOf("\"" + name + "\"", Math.max(0, after));
      if (second >= 0) at = second;
      int object = openAtEnd(body.substring(0, Math.min(at, body.length())));
      what = (secret && !isWord(name) ? "a member" : "the member \"" + Clipped.of(name) + "\"") + " appears twice in the object" + (object < 0 ? "" : " that begins at "
          + place(body, object)) + "; give it once (which of two values is meant cannot be told)";
    } else if (atFault == '#' && original.startsWith("Unexpected character") || original.contains("ALLOW_COMMENTS")
        && (body.startsWith("//", at) || body.startsWith("/*", at))) {
      what = "a comment, which JSON does not have; remove it";
    } else if (original.contains("ALLOW_COMMENTS")) {
      what = "a '/' outside a string, where JSON has no use for it (and no comments); remove it";
    } else if (atFault == '\'' && original.startsWith("Unexpected character")) {
      what = "a single quote ('), where JSON's strings and member names take double quotes (\")";
    } else if (before == ',' && (atFault == '}' && original.contains("double-quote to start field name")
        || atFault == ']' && original.contains("expected a valid value"))) {
      what = "a comma before '" + atFault + "', which JSON does not allow (no trailing commas); remove it";
      at = beforeAt; // the comma, as Python's json names it
    } else if (original.contains("to follow minus sign") && before == '+') {
      what = "a number with a plus sign, which JSON numbers do not have; write it without";
      at = beforeAt;
    } else if (original.contains("to follow minus sign")) {
      what = "a '-' not followed by a digit: JSON numbers are written as -5, -0.5 or -1e3";
      at = numberStart(body, after, atFault, at);
    } else if (word != null && original.startsWith("Non-standard token")) {
      what = wordAtFault + " is no JSON value (JSON has no NaN or Infinity); " + ("body".equals(subject) ? "send" : "write")
          + " a number, or leave the field out";
    } else if ((m = CONTROL_CHAR.matcher(original)).find()) {
      int code = Integer.parseInt(m.group(2));
      if (after >= 1 && body.charAt(after - 1) == code) at = after - 1;
      String escape = switch (code) {
        case '\n' -> "\\n";
        case '\r' -> "\\r";
        case '\t' -> "\\t";
        default -> String.format("\\u%04x", code);
      };
      what = m.group(1) != null
          ? String.format("a control character (U+%04X) inside a string, which JSON does not allow there; write it as %s", code, escape)
          : String.format("a control character (U+%04X) outside any string, which JSON does not allow; remove it", code);
      // A line break that only ends the file (echo '...' > body.json) after a string left open: the body was cut short there.
      int open = (code == '\n' || code == '\r') && m.group(1) != null && body.substring(at).isBlank() ? openAtEnd(body.substring(0, at)) : -1;
      if (open >= 0 && body.charAt(open) == '"')
        what = "the " + subject + " ends inside the string that begins at " + place(body, open) + " (was it cut short?); a string"
            + " ends with '\"'";
    } else if ((m = MISMATCHED_CLOSER.matcher(withoutJacksonAdvice(original))).find()) {
      String open = m.group(3).toLowerCase(java.util.Locale.ROOT);
      what = "a '" + m.group(1) + "' where the " + open + " opened at line " + m.group(4) + ", column " + m.group(5)
          + " is still open (a '" + m.group(2) + "' is missing before it)";
    } else if ((m = CLOSES_ROOT.matcher(original)).find()) {
      what = lastVisibleIndex(body, at) < 0 ? "a '" + m.group(1) + "' with nothing open before it: the " + subject + " must be a JSON object,"
          + " {" + example + ": ...}" : "a '" + m.group(1) + "' after the JSON " + firstValue(body) + " had ended; remove it";
    } else if (original.startsWith("Trailing token") || word != null && original.startsWith("Unrecognized token")
        && lastVisibleIndex(body, at) >= 0 && closesTheBody(body, at)) {
      // Text after the object is said as text where it is no JSON (tester59d: "garbage" was called more JSON).
      what = (word != null && original.startsWith("Unrecognized token") ? "more text (" + wordAtFault + ")" : "more JSON")
          + " after the " + firstValue(body) + " had ended (a " + ("body".equals(subject) ? "request body" : subject) + " is one JSON"
          + " object); remove it";
    } else if (word != null && original.startsWith("Unrecognized token")) {
      what = wordAtFault + " is no JSON value (a string is written in double quotes; the words JSON has are"
          + " true, false and null)";
    } else if (original.contains("was expecting double-quote to start field name") && (atFault == ':' || atFault == ',')) {
      what = "a '" + atFault + "' where a member name was expected: a member is a name in double quotes, a ':' and a value"
          + " (" + example + ": \"x\")";
    } else if (original.contains("was expecting double-quote to start field name")) {
      String name = secret ? null : nameAt(body, at);
      if (name != null) example = "\"" + name + "\"";
      what = nameOf(atFault) != null
          ? String.format("a member name not in double quotes (it begins with U+%04X, %s): JSON's member names are strings in"
              + " plain double quotes (%s)", (int) atFault, nameOf(atFault), example) + (advice(atFault).contains("whitespace") ? advice(atFault) : "")
          : "a member name" + (atFault == 0 ? "" : " (from " + shown(atFault) + ")") + " not in double quotes: JSON's member"
              + " names are strings (" + example + ")";
    } else if (original.contains("was expecting a colon to separate field name and value")) {
      what = "a ':' missing after the member name before it";
    } else if (original.matches("(?s).*was expecting comma to separate (Object|Array) entries.*") && beforeAt == at - 1
        && (Character.isDigit(before) || before == '.') && (Character.isLetterOrDigit(atFault) || atFault == '.')) {
      what = "'" + atFault + "' right after a number, which cannot continue it: JSON numbers are decimal, written as 16, -2.5"
          + " or 1e3";
    } else if (original.contains("was expecting comma to separate Object entries") && before != ',' && before != '{'
        && (Character.isDigit(atFault) || "-[{tfn".indexOf(atFault) >= 0)) {
      what = "a second value after a member's value (a ',' missing, or an array meant: [5, 6]); a member has one value";
    } else if (original.contains("was expecting comma to separate Object entries")) {
      what = "a ',' missing between two members of an object";
    } else if (original.contains("was expecting comma to separate Array entries") && atFault == ':') {
      int array = openAtEnd(body.substring(0, Math.min(at, body.length())));
      what = "a ':' inside the array" + (array < 0 ? "" : " that begins at " + place(body, array)) + ", which holds values, not"
          + " members: is its ']' missing before this member?";
    } else if (original.contains("was expecting comma to separate Array entries")) {
      what = "a ',' missing between two elements of an array";
    } else if ((m = END_BEFORE_CLOSE.matcher(original)).find()) {
      what = "the " + subject + " ends before the " + m.group(1).toLowerCase(java.util.Locale.ROOT) + " opened at line " + m.group(2)
          + ", column " + m.group(3) + " is closed (a '" + ("Object".equals(m.group(1)) ? "}" : "]") + "' is missing)";
    } else if (original.startsWith("Unexpected end-of-input") && openAtEnd(body) >= 0) {
      int open = openAtEnd(body);
      String kind = switch (body.charAt(open)) {
        case '"' -> "string";
        case '{' -> "object";
        default -> "array";
      };
      what = "the " + subject + " ends inside the " + kind + " that begins at " + place(body, open) + " (was it cut short?); "
          + ("string".equals(kind) ? "a string ends with '\"'" : "object".equals(kind) ? "a member is \"name\": value, and an"
              + " object ends with '}'" : "an array ends with ']'");
      at = body.length();
      // The string's last character a curly quote: most likely the end of a string pasted from a word processor.
      int last = lastVisibleIndex(body, body.length());
      if ("string".equals(kind) && last > open && (body.charAt(last) == '\u201c' || body.charAt(last) == '\u201d'))
        what += "; the string's last character, at " + place(body, last) + ", is a " + described(body.charAt(last))
            + ", which does not end it: JSON's strings end with a plain double quote (\")";
    } else if (original.contains("Leading zeroes not allowed")) {
      while (at > 0 && (Character.isDigit(body.charAt(at - 1)) || body.charAt(at - 1) == '-')) at--; // the number's start
      what = "a number with a leading zero, which JSON numbers do not have (only 0 itself and 0.x begin with 0)";
    } else if (original.startsWith("Unrecognized character escape")) {
      if (at >= 1 && body.charAt(at - 1) == '\\') at--; // the backslash
      what = "a backslash escape JSON does not have (its escapes are \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t and"
          + " \\uXXXX); write a backslash itself as \\\\";
    } else if (atFault == '.' && original.contains("expected a valid value")) {
      what = "a number that starts with '.', which JSON numbers do not (write 0.5, not .5)";
    } else if (original.contains("expected a valid value") && at > 0 && lastVisibleIndex(body, at) >= 0 && closesTheBody(body, at)) {
      what = "a " + described(atFault) + " after the JSON " + firstValue(body) + " had ended; remove it";
    } else if (original.contains("expected a valid value")) {
      boolean none = atFault == 0 || atFault == '}' || atFault == ']' || atFault == ',';
      what = (before == ':' && none ? "a member with no value after its ':'; " : atFault == 0 ? "" : "a " + described(atFault)
          + " where a value was expected; ") + "a JSON value is a string, a number, an object, an array, true, false or null"
          + advice(atFault);
    } else if (original.contains("Decimal point not followed by a digit")) {
      what = "a '.' not followed by a digit, which a JSON number needs (write 1.0, 1.5 or 1, not 1.)";
      at = body.indexOf('.', numberStart(body, after, atFault, at));
    } else if (original.contains("Exponent indicator not followed by a digit")) {
      what = "a number whose exponent has no digits (write 1e3, or leave the e out)";
      int start = numberStart(body, after, atFault, at);
      while (at > start && body.charAt(at) != 'e' && body.charAt(at) != 'E') at--;
      while (start < body.length() && body.charAt(start) != 'e' && body.charAt(start) != 'E') start++;
      at = start;
    } else if (original.contains("expected a hex-digit for character escape sequence")) {
      int escape = body.lastIndexOf("\\u", at);
      if (escape >= 0) at = escape;
      what = "a \\u escape without four hex digits after it (as \\u00e9)";
    } else {
      what = withoutJacksonAdvice(QUOTED_CHAR.matcher(original).replaceAll(r -> Matcher.quoteReplacement(
          (r.group().startsWith("escape") ? "escape " : "") + shown(r.group(1).charAt(0)))));
      if (what.length() > 200) what = what.substring(0, 200) + "...";
    }
    // A curly quote where a string was meant to end (pasted from a word processor) lets the string run on, and the parser
    // stops later, at whatever that makes wrong (a line break, a ',' missing, the end): the curly quote is the fault.
    int[] ranOn = original.startsWith("Duplicate field") ? null : ranOnPastCurlyQuote(body, at);
    if (ranOn != null && parsesFurtherWithPlainQuote(body, ranOn[0], ranOn[2], loc)) {
      what = String.format("a %s inside the string that begins at %s, which it does not end: JSON's strings end with a plain"
          + " double quote (\"), so the string ran on past it%s", described(body.charAt(ranOn[0])), place(body, ranOn[1]),
          at >= body.length() ? " to the end of the " + subject + " (unless the " + subject + " was cut short)" : "");
      at = ranOn[0];
    }
    String where = place(body, at);
    // A line of a JSON Lines file is its own line 1: its places are columns.
    if (columnOnly) {
      where = where.substring(where.indexOf("column"));
      what = what.replace("at line 1, column", "at column");
    }
    return (loc == null ? "" : " (" + where + ")") + ": " + what;
  }

  /**
   * Where the number begins that Jackson was reading when it met {@code atFault}, the first such
   * character from index {@code after - 1} on (Jackson's offset for a malformed number falls before
   * or after the fault, depending on the fault); {@code fallback} when {@code atFault} is not found.
   */
  private static int numberStart(String body, int after, char atFault, int fallback) {
    int end = atFault == 0 ? -1 : body.indexOf(atFault, Math.max(0, after - 1));
    if (end < 0) return fallback;
    int start = end;
    while (start > 0 && "0123456789.eE+-".indexOf(body.charAt(start - 1)) >= 0) start--;
    return start;
  }

  /**
   * The member name written at {@code at} without plain double quotes (after a curly or single
   * quote, or bare), or after a character that looks like JSON's own and its quote (a no-break space
   * before {@code "max_tokens"}), as far as letters, digits, '_', '-' and '.' go; null when none follows.
   */
  /** Lowercase letters, in parts joined by - or _, 10 at most: a member name ("tenant", "key"), not a key. */
  private static boolean isWord(String s) {
    return s.length() <= 10 && s.matches("[a-z]+([_-][a-z]+)*");
  }

  private static String nameAt(String body, int at) {
    int start = at;
    // At most two characters before the name: the one at fault, and a quote after it.
    while (start < body.length() && start - at < 2 && !Character.isLetterOrDigit(body.charAt(start)) && body.charAt(start) != '_')
      start++;
    int end = start;
    while (end < body.length() && end - start < 64
        && (Character.isLetterOrDigit(body.charAt(end)) || "_-.".indexOf(body.charAt(end)) >= 0)) end++;
    return end > start ? body.substring(start, end) : null;
  }

  /**
   * Whether {@code body} with a plain quote in place of the curly one at {@code curly} parses, or
   * fails later than at {@code failed}, or no sooner than at {@code reached}, where the string that
   * ran on past the curly quote ended (a missing ',' met there is met whichever quote ends the
   * string): then the curly quote was meant to end its string. A string that holds "\u201cno\u201d,
   * then" is fine as it is, and the fault is elsewhere: ended at the curly quote, it fails at
   * {@code then}, before it.
   */
  private static boolean parsesFurtherWithPlainQuote(String body, int curly, int reached,
      com.fasterxml.jackson.core.JsonLocation failed) {
    try {
      MAPPER.readTree(body.substring(0, curly) + '"' + body.substring(curly + 1));
      return true;
    } catch (JsonProcessingException e) {
      if (e.getLocation() == null) return false;
      long offset = e.getLocation().getCharOffset(); // just after the character the parser stopped at
      return offset > reached || failed != null && offset > failed.getCharOffset();
    }
  }

  /**
   * Where a string ran on past a curly quote meant to end it: {@code {index of the curly quote, index
   * of the string's opening quote, index where it ends (its closing quote, or the fault's place in
   * a string still open)}} when the fault at {@code at} lies inside a string, or just after one, that
   * holds U+201C or U+201D followed, within it, by JSON's punctuation or a line break (what would
   * have come after the string); null otherwise ({@code "\u201chi\u201d"} is a string like any).
   */
  private static int[] ranOnPastCurlyQuote(String body, int at) {
    int last = Math.min(at, body.length() - 1);
    int open = -1;
    int closedStart = -1;
    int closedEnd = -1;
    for (int i = 0; i <= last; i++) {
      char c = body.charAt(i);
      if (open >= 0) {
        if (c == '\\') {
          i++;
        } else if (c == '"') {
          closedStart = open;
          closedEnd = i;
          open = -1;
        }
      } else if (c == '"') {
        open = i;
      }
    }
    int start;
    int end;
    if (open >= 0 && open < at) {
      start = open;
      end = last;
    } else if (closedEnd >= 0 && lastVisibleIndex(body, at) == closedEnd) {
      start = closedStart;
      end = closedEnd;
    } else {
      return null;
    }
    int curly = Math.max(body.lastIndexOf('\u201c', end), body.lastIndexOf('\u201d', end));
    if (curly <= start) return null;
    for (int i = curly + 1; i <= end; i++) if (",:}]\n\r".indexOf(body.charAt(i)) >= 0) return new int[] {curly, start, end};
    return null;
  }

  /**
   * The index in {@code body} where the innermost string, object or array still open at its end
   * begins (its {@code "}, {@code {} or {@code [}), or -1 when none is: what a body cut short was in.
   */
  private static int openAtEnd(String body) {
    java.util.ArrayDeque<Integer> open = new java.util.ArrayDeque<>();
    int string = -1;
    for (int i = 0; i < body.length(); i++) {
      char c = body.charAt(i);
      if (string >= 0) {
        if (c == '\\') i++;
        else if (c == '"') string = -1;
      } else if (c == '"') {
        string = i;
      } else if (c == '{' || c == '[') {
        open.push(i);
      } else if ((c == '}' || c == ']') && !open.isEmpty()) {
        open.pop();
      }
    }
    return string >= 0 ? string : open.isEmpty() ? -1 : open.peek();
  }

  /**
   * What the body's first value is, by its first visible character: {@code object}, or another of
   * JSON's kinds when it begins with one ({@code "hi" x} ended a string, not an object).
   */
  private static String firstValue(String body) {
    int i = 0;
    while (i < body.length() && (Character.isWhitespace(body.charAt(i)) || body.charAt(i) == '\ufeff')) i++;
    char c = i < body.length() ? body.charAt(i) : '{';
    return c == '[' ? "array" : c == '"' ? "string" : c == '-' || Character.isDigit(c) ? "number"
        : c == 't' || c == 'f' || c == 'n' ? "value" : "object";
  }

  /** Whether everything in {@code body} before index {@code at} is a whole JSON value: what follows it comes after the object. */
  private static boolean closesTheBody(String body, int at) {
    try {
      MAPPER.readTree(body.substring(0, at));
      return true;
    } catch (JsonProcessingException | RuntimeException e) {
      return false;
    }
  }

  /** {@code c} as a message shows it: quoted when it can be seen, else its code point ({@code U+FEFF}). */
  private static String shown(char c) {
    return c > 0x20 && c < 0x7f || Character.isLetterOrDigit(c) ? "'" + c + "'" : String.format("U+%04X", (int) c);
  }

  /** {@code c} as {@link #shown}, with what it is where it looks like JSON's own (a curly quote, an invisible space). */
  private static String described(char c) {
    String name = nameOf(c);
    return name == null ? shown(c) : String.format("U+%04X (%s)", (int) c, name);
  }

  /** What {@code c} is, where it looks like one of JSON's own characters and is not; null for any other. */
  private static String nameOf(char c) {
    return switch (c) {
      case '\u201c', '\u201d' -> "a curly double quote";
      case '\u2018', '\u2019' -> "a curly single quote";
      case '\u00a0', '\u202f', '\u2007' -> "a no-break space";
      case '\u200b' -> "a zero-width space";
      case '\ufeff' -> "a byte order mark";
      default -> null;
    };
  }

  /** What to write instead of {@code c} where it looks like JSON's own character; empty for any other. */
  private static String advice(char c) {
    return switch (c) {
      case '\u201c', '\u201d', '\u2018', '\u2019' -> "; JSON's strings take plain double quotes (\")";
      case '\u00a0', '\u202f', '\u2007', '\u200b', '\ufeff' -> "; JSON's whitespace is spaces, tabs and line breaks only";
      default -> "";
    };
  }

  /**
   * {@code line L, column C} of index {@code at} of {@code body}: lines broken by LF, CRLF or a
   * lone CR (as JSON's whitespace allows all three), columns counted in characters (code points).
   */
  public static String place(String body, int at) {
    int line = 1;
    int lineStart = 0;
    int end = Math.max(0, Math.min(at, body.length()));
    for (int i = 0; i < end; i++) {
      char c = body.charAt(i);
      if (c == '\n' || c == '\r' && (i + 1 >= body.length() || body.charAt(i + 1) != '\n')) {
        line++;
        lineStart = i + 1;
      }
    }
    return "line " + line + ", column " + (body.codePointCount(lineStart, end) + 1);
  }

  /** The index of the last character before index {@code at} of {@code body} that is not JSON whitespace, or -1. */
  private static int lastVisibleIndex(String body, int at) {
    for (int i = Math.min(at, body.length()) - 1; i >= 0; i--) {
      char c = body.charAt(i);
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return i;
    }
    return -1;
  }

  /**
   * Jackson's message without what only its caller could act on: the parser feature that would
   * allow the input ("enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"), the class it
   * was reading into.
   */
  public static String withoutJacksonAdvice(String msg) {
    if (msg == null) return null;
    // Jackson quotes the body it read ("[Source: (String)"{..."; line: 1, column: 1]"): the place is what helps.
    // (?s): the body quoted may span lines, and none of it goes back.
    return msg.replaceAll("(?s)start marker at \\[Source: .*?; line: (\\d+), column: (\\d+)\\]", "opened at line $1, column $2")
        .replaceAll("(?s)\\[Source: .*?; line: (\\d+), column: (\\d+)\\]", "line $1, column $2")
        .replaceAll("\\s*\\(bound as `[^`]*`\\)", "")
        .replaceAll("[:;]\\s*[^:;]*(Feature\\.|com\\.fasterxml)[^:;]*", "")
        .strip();
  }
}
