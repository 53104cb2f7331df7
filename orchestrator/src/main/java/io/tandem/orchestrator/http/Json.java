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
import io.tandem.protocol.text.JsonSyntax;
import io.tandem.protocol.text.LoneSurrogates;
import io.tandem.protocol.text.WideEncoding;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.StandardCharsets;

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
    String lone = firstPath(root, "", v -> v.isTextual() && LoneSurrogates.in(v.textValue()), LoneSurrogates::in);
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
   * What is wrong with {@code body} where the parser stopped ({@code e}), for a client, in the words
   * of {@link JsonSyntax#of}: {@code the request body is not valid JSON (line 1, column 16): a comma
   * before '}', which JSON does not allow ...}.
   */
  static String syntaxError(JsonProcessingException e, String body) {
    return "the request body is not valid JSON" + JsonSyntax.of(e, body, "body");
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
            throw ApiError.invalid(topField(p.getParsingContext()), "the request body nests JSON deeper than " + MAX_DEPTH
                + " levels, in " + topField(p.getParsingContext()) + "; no field of a request takes that many: send a flatter"
                + " value");
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

  /** The body's top-level field that {@code context} is within. */
  private static String topField(JsonStreamContext context) {
    JsonStreamContext c = context;
    while (c.getParent() != null && !c.getParent().inRoot()) c = c.getParent();
    return Clipped.of(c.getCurrentName());
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
