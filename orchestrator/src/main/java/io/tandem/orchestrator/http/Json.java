package io.tandem.orchestrator.http;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.protocol.text.Clipped;
import io.tandem.protocol.text.WideEncoding;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The HTTP layer's one JSON mapper: records written with OpenAI's snake_case names, compact
 * output, strict input (no trailing tokens, no duplicate keys).
 */
public final class Json {
  static final ObjectMapper MAPPER = new ObjectMapper()
      .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  /** {@code value} (a record of {@link OpenAi}, or a tree) as compact JSON. */
  static String write(Object value) {
    try {
      return MAPPER.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write JSON", e);
    }
  }

  static ObjectNode object() {
    return MAPPER.createObjectNode();
  }

  /**
   * A request body as text: UTF-8, as JSON between systems must be (RFC 8259, section 8.1), after a
   * byte order mark, which that section lets a parser ignore and vLLM's server (Python's {@code
   * json.loads} of the body's bytes) does. A byte that is not UTF-8 is a 400 naming it, where a
   * lenient decoding would put U+FFFD in its place and so change the prompt without a word.
   */
  static String text(byte[] body) {
    ByteBuffer in = ByteBuffer.wrap(body);
    if (body.length >= 3 && (body[0] & 0xff) == 0xEF && (body[1] & 0xff) == 0xBB && (body[2] & 0xff) == 0xBF)
      in.position(3);
    WideEncoding wide = WideEncoding.of(body, body.length);
    if (wide != null)
      throw ApiError.invalid(null, "the request body is " + named(wide) + ", not UTF-8; send the JSON encoded as UTF-8 (RFC 8259,"
          + " section 8.1" + (wide.bits() == 16 ? "; Windows PowerShell 5's > and Out-File write UTF-16: save the file as UTF-8" : "")
          + ")");
    CharBuffer out = CharBuffer.allocate(body.length);
    CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder();
    CoderResult r = utf8.decode(in, out, true);
    if (!r.isError()) r = utf8.flush(out);
    if (r.isError())
      throw ApiError.invalid(null, String.format("the request body is not UTF-8: the byte 0x%02X at offset %d cannot stand"
          + " there in UTF-8 text; send the JSON encoded as UTF-8 (RFC 8259, section 8.1)", body[in.position()] & 0xff, in.position()));
    return out.flip().toString();
  }

  /** {@code wide} as a body's refusal says it: {@code "UTF-16 (little-endian: it begins with the byte order mark FF FE)"}. */
  private static String named(WideEncoding wide) {
    return wide.name() + " (" + wide.byteOrder() + (wide.byteOrderMark() != null
        ? ": it begins with the byte order mark " + wide.byteOrderMark()
        : ", as its first bytes show: " + (wide.littleEndian() ? "'" + wide.firstCharacter() + "' then " + wide.zeros()
            : wide.zeros() + " then '" + wide.firstCharacter() + "'")) + ")";
  }

  /** The body as a JSON object, or a 400 that says what is wrong with it (never the parser's stack). */
  static ObjectNode parseObject(String body) {
    // Bytes sent after the head without a Content-Length (or chunks) are no body (RFC 9112, section 6.3): HTTP/1.0 clients meet it.
    if (body.isEmpty()) throw ApiError.invalid(null, "the request body is empty; send a JSON object, with a Content-Length"
        + " header (or in chunks, HTTP/1.1)");
    if (body.isBlank()) throw ApiError.invalid(null, "the request body holds only whitespace; send a JSON object");
    checkShape(body);
    JsonNode root;
    try {
      root = MAPPER.readTree(body);
    } catch (JsonProcessingException e) {
      throw ApiError.invalid(null, syntaxError(e, body));
    }
    if (root == null || !root.isObject())
      throw ApiError.invalid(null, "the request body must be a JSON object, got " + kind(root));
    // JSON lets "\\ud800" be written (RFC 8259, section 8.2), but it stands for no character, and a
    // prompt with one would reach the tokenizer as something else (<unk>, U+FFFD) without a word.
    String lone = firstPath(root, "", v -> v.isTextual() && unpaired(v.textValue()), Json::unpaired);
    if (lone != null) {
      // The path written with its surrogates as escapes (a member's name may hold one): a message is text itself.
      // Clipped as another error clips a member's name: the path is the client's own text.
      String at = Clipped.of(lone.chars().mapToObj(c -> Character.isSurrogate((char) c)
          ? String.format("\\u%04x", c) : String.valueOf((char) c)).collect(java.util.stream.Collectors.joining()));
      throw ApiError.invalid(at, at + " holds a lone UTF-16 surrogate (a \\u escape from D800 to DFFF without its"
          + " other half), which is no character: no tokenizer can read it, and UTF-8 cannot encode it (RFC 8259,"
          + " section 8.2); write a character beyond U+FFFF as a pair of escapes (\\ud83d\\ude00), or as UTF-8");
    }
    return (ObjectNode) root;
  }

  /**
   * The path ({@code a.b[2].c}, below {@code path}; a member at the top has its name alone) of the
   * first value in {@code node}, depth first, that {@code value} refuses or whose member name
   * {@code name} refuses, or null for none.
   */
  private static String firstPath(JsonNode node, String path, java.util.function.Predicate<JsonNode> value,
      java.util.function.Predicate<String> name) {
    if (value.test(node)) return path;
    for (var it = node.fields(); it.hasNext(); ) {
      var field = it.next();
      String at = path.isEmpty() ? field.getKey() : path + "." + field.getKey();
      if (name.test(field.getKey())) return at;
      String found = firstPath(field.getValue(), at, value, name);
      if (found != null) return found;
    }
    if (node.isArray())
      for (int i = 0; i < node.size(); i++) {
        String found = firstPath(node.get(i), path + "[" + i + "]", value, name);
        if (found != null) return found;
      }
    return null;
  }

  /** Whether {@code s} has a high surrogate not followed by a low one, or a low one not after a high one. */
  static boolean unpaired(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) return true;
        i++;
      } else if (Character.isLowSurrogate(c)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether {@code v} is a number that Jackson read as infinite: one beyond a double's range such as
   * {@code 1e400}, which no field takes and which would otherwise be shown as {@code "Infinity"}.
   * The body's reader checks each field's type first, so that a number where a string belongs is
   * refused as not a string; where a number belongs, such a value is out of range ({@link
   * #outOfRange}).
   */
  static boolean beyondDouble(JsonNode v) {
    return v != null && v.isNumber() && (v.isDouble() || v.isFloat()) && !Double.isFinite(v.doubleValue());
  }

  /** The 400 for a number beyond a double's range ({@link #beyondDouble}) at {@code path}, which it names. */
  static ApiError outOfRange(String path) {
    return ApiError.invalid(path, path + " is a number out of range: beyond a 64-bit float's (about -1.8e308 to 1.8e308)");
  }

  /**
   * Refuses the first number beyond a double's range ({@link #beyondDouble}) in {@code node}, a
   * value the request passes on as it came (template variables, tools), named {@code path}; the
   * error names its own path ({@code chat_template_kwargs.budget}, {@code
   * tools[0].function.parameters.maximum}).
   */
  static void requireInRange(JsonNode node, String path) {
    String huge = firstPath(node, path, Json::beyondDouble, key -> false);
    if (huge != null) throw outOfRange(huge);
  }

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
   * What is wrong with {@code body} where the parser stopped ({@code e}), for a client: where (the
   * line and column, 1-based and counted in characters, of the character at fault: Jackson 2.13
   * places an error after the character or word it read, and counts a character beyond U+FFFF as
   * two) and what, in JSON's own terms (RFC 8259) where Jackson names its parser features or, for
   * a leading {@code +}, misnames the fault ("to follow minus sign").
   */
  static String syntaxError(JsonProcessingException e, String body) {
    return "the request body is not valid JSON" + fault(e, body, "body", false);
  }

  /**
   * What is wrong with {@code text}, a JSON document a command reads (a file, or with {@code line}
   * one line of a JSON Lines file, its place then a column alone), in the words of a request body's
   * syntax error: {@code (line 3, column 7): a comma before '}', which JSON does not allow ...}.
   */
  public static String syntaxFault(JsonProcessingException e, String text, boolean line) {
    return fault(e, text, line ? "line" : "file", line);
  }

  /** {@link #syntaxError}'s place and fault, {@code " (line L, column C): what"}, the text called {@code subject}. */
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
    char atFault = quoted.find() ? quoted.group(1).charAt(0) : closer.find() ? closer.group(1).charAt(0) : 0;
    int at = after;
    if (atFault != 0 && after >= 1 && body.charAt(after - 1) == atFault) at = after - 1; // just read: its own place
    if (word != null && after >= word.length() && body.startsWith(word, after - word.length()))
      at = after - word.length(); // the word's first character
    int beforeAt = lastVisibleIndex(body, at);
    char before = beforeAt < 0 ? 0 : body.charAt(beforeAt);
    String what;
    Matcher m;
    if (original.startsWith("Duplicate field '")) {
      String name = original.substring("Duplicate field '".length(), Math.max("Duplicate field '".length(), original.lastIndexOf('\'')));
      int second = body.lastIndexOf("\"" + name + "\"", Math.max(0, after));
      if (second >= 0) at = second;
      int object = openAtEnd(body.substring(0, Math.min(at, body.length())));
      what = "the member \"" + Clipped.of(name) + "\" appears twice in the object" + (object < 0 ? "" : " that begins at "
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
      what = "'" + Clipped.of(word) + "' is no JSON value (JSON has no NaN or Infinity); send a number, or leave the field out";
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
      what = "more JSON after the " + firstValue(body) + " had ended (a " + ("body".equals(subject) ? "request body" : subject) + " is one JSON"
          + " object); remove it";
    } else if (word != null && original.startsWith("Unrecognized token")) {
      what = "'" + Clipped.of(word) + "' is no JSON value (a string is written in double quotes; the words JSON has are"
          + " true, false and null)";
    } else if (original.contains("was expecting double-quote to start field name") && (atFault == ':' || atFault == ',')) {
      what = "a '" + atFault + "' where a member name was expected: a member is a name in double quotes, a ':' and a value"
          + " (" + example + ": \"x\")";
    } else if (original.contains("was expecting double-quote to start field name")) {
      String name = nameAt(body, at);
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
   * quote, or bare), as far as letters, digits, '_', '-' and '.' go; null when none follows.
   */
  private static String nameAt(String body, int at) {
    int start = at < body.length() && !Character.isLetterOrDigit(body.charAt(at)) && body.charAt(at) != '_' ? at + 1 : at;
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
  static String place(String body, int at) {
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
  static String withoutJacksonAdvice(String msg) {
    if (msg == null) return null;
    // Jackson quotes the body it read ("[Source: (String)"{..."; line: 1, column: 1]"): the place is what helps.
    // (?s): the body quoted may span lines, and none of it goes back.
    return msg.replaceAll("(?s)start marker at \\[Source: .*?; line: (\\d+), column: (\\d+)\\]", "opened at line $1, column $2")
        .replaceAll("(?s)\\[Source: .*?; line: (\\d+), column: (\\d+)\\]", "line $1, column $2")
        .replaceAll("\\s*\\(bound as `[^`]*`\\)", "")
        .replaceAll("[:;]\\s*[^:;]*(Feature\\.|com\\.fasterxml)[^:;]*", "")
        .strip();
  }

  static final int MAX_DEPTH = 64;

  /**
   * The most characters a number in a request may be written with: Jackson's own limit from 2.15
   * on ({@code StreamReadConstraints.DEFAULT_MAX_NUM_LEN}); the 2.13 here has none, and turns a
   * number of a million digits into a {@code BigInteger} in time that grows with its square (some
   * 24 s of CPU before the field's check refused it).
   */
  static final int MAX_NUMBER_LENGTH = 1000;

  /**
   * Refuses, before the tree is built, a body that nests deeper than {@link #MAX_DEPTH} (Jackson
   * 2.13 has no nesting limit and builds trees recursively) or holds a number written longer than
   * {@link #MAX_NUMBER_LENGTH}, naming the number's path ({@code stop_token_ids[2]}). The parser
   * here only reads tokens (it neither recurses nor converts a number); a body that is not JSON is
   * left for the tree's reader to report, with the same message.
   */
  private static void checkShape(String body) {
    try (JsonParser p = MAPPER.getFactory().createParser(body)) {
      int depth = 0;
      // Said before its contents are read, as of any body that is not an object.
      if (p.nextToken() == JsonToken.START_ARRAY) throw ApiError.invalid(null, "the request body must be a JSON object, got an array");
      for (JsonToken t = p.currentToken(); t != null; t = p.nextToken()) {
        if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
          if (++depth > MAX_DEPTH)
            throw ApiError.invalid(null, "the request body nests JSON deeper than " + MAX_DEPTH + " levels");
        } else if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
          if (--depth == 0) return;
        } else if (t.isNumeric() && p.getTextLength() > MAX_NUMBER_LENGTH) {
          String path = path(p.getParsingContext());
          throw ApiError.invalid(path.isEmpty() ? null : path, (path.isEmpty() ? "the request body" : path)
              + " is a number written with " + p.getTextLength() + " characters; a request's numbers may have at most "
              + MAX_NUMBER_LENGTH);
        } else if (t == JsonToken.VALUE_NUMBER_FLOAT && io.tandem.protocol.text.Decimal.belowDouble(p.getText())) {
          // Read as 0, it would mean something else: a time_out of 1e-400 s would be none at all.
          String path = path(p.getParsingContext());
          throw ApiError.invalid(path.isEmpty() ? null : path, (path.isEmpty() ? "the request body" : path)
              + " is a number too close to 0 for a 64-bit float (the smallest is about 4.9e-324); write 0, or a larger number");
        }
        if (depth == 0) return;
      }
    } catch (IOException notJson) {
      // the tree's reader reports it
    }
  }

  /** A value's path as messages and {@code param} name it: {@code tandem.max_target_tokens}, {@code prompt[0][1]}. */
  private static String path(JsonStreamContext context) {
    StringBuilder path = new StringBuilder();
    for (JsonStreamContext c = context; c != null && !c.inRoot(); c = c.getParent()) {
      if (c.inArray()) path.insert(0, "[" + c.getCurrentIndex() + "]");
      else path.insert(0, (c.getParent() != null && c.getParent().inRoot() ? "" : ".") + Clipped.of(c.getCurrentName()));
    }
    return path.toString();
  }

  /** How a JSON value is named in messages: "a string", "an array", ... */
  static String kind(JsonNode n) {
    if (n == null || n.isMissingNode()) return "nothing";
    if (n.isNull()) return "null";
    if (n.isTextual()) return "a string";
    if (n.isBoolean()) return "a boolean";
    if (n.isIntegralNumber()) return "an integer";
    if (n.isNumber()) return "a number";
    if (n.isArray()) return "an array";
    if (n.isObject()) return "an object";
    return n.getNodeType().name().toLowerCase();
  }

  private Json() {}
}
