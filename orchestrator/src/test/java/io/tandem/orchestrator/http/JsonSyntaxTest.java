package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * A body that is not JSON is a 400 that says where (the line and column of the character at
 * fault) and what, in JSON's terms: never a parser's feature names, nor a minus sign for a plus.
 */
class JsonSyntaxTest {

  private static String refusal(String body) {
    ApiError e = assertThrows(ApiError.class, () -> Json.parseObject(body));
    assertEquals(400, e.status());
    return e.body().error().message();
  }

  /** A body saved as UTF-16 (Windows PowerShell 5's {@code >}) is named as that, with or without its byte order mark. */
  @Test
  void aUtf16BodyIsNamedAsUtf16() {
    String body = "{\"messages\":[]}";
    String advice = ", not UTF-8; send the JSON encoded as UTF-8 (RFC 8259, section 8.1; Windows PowerShell 5's > and Out-File"
        + " write UTF-16: save the file as UTF-8)";
    assertEquals("the request body is UTF-16 (little-endian: it begins with the byte order mark FF FE)" + advice,
        assertThrows(ApiError.class, () -> Json.text(withBom(body))).getMessage());
    assertEquals("the request body is UTF-16 (little-endian, as its first bytes show: '{' then a zero byte)" + advice,
        assertThrows(ApiError.class, () -> Json.text(body.getBytes(java.nio.charset.StandardCharsets.UTF_16LE))).getMessage());
    assertEquals("the request body is UTF-16 (big-endian: it begins with the byte order mark FE FF)" + advice,
        assertThrows(ApiError.class, () -> Json.text(body.getBytes(java.nio.charset.StandardCharsets.UTF_16))).getMessage());
    // PowerShell 5 writes no UTF-32: its hint is left out there.
    assertEquals("the request body is UTF-32 (big-endian, as its first bytes show: three zero bytes then '{'), not UTF-8; send the"
        + " JSON encoded as UTF-8 (RFC 8259, section 8.1)",
        assertThrows(ApiError.class, () -> Json.text(body.getBytes(java.nio.charset.Charset.forName("UTF-32BE")))).getMessage());
    assertEquals("the request body is UTF-32 (little-endian: it begins with the byte order mark FF FE 00 00), not UTF-8; send the"
        + " JSON encoded as UTF-8 (RFC 8259, section 8.1)",
        assertThrows(ApiError.class, () -> Json.text(withMark32le(body))).getMessage());
    assertEquals(body, Json.text(body.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }

  private static byte[] withMark32le(String text) {
    byte[] le = text.getBytes(java.nio.charset.Charset.forName("UTF-32LE"));
    byte[] out = new byte[le.length + 4];
    out[0] = (byte) 0xFF;
    out[1] = (byte) 0xFE;
    System.arraycopy(le, 0, out, 4, le.length);
    return out;
  }

  private static byte[] withBom(String text) {
    byte[] le = text.getBytes(java.nio.charset.StandardCharsets.UTF_16LE);
    byte[] out = new byte[le.length + 2];
    out[0] = (byte) 0xFF;
    out[1] = (byte) 0xFE;
    System.arraycopy(le, 0, out, 2, le.length);
    return out;
  }

  @Test
  void theMistakesPeopleMakeWritingJsonByHandAreNamedInJsonsTerms() {
    assertEquals("the request body is not valid JSON (line 1, column 16): a comment, which JSON does not have; remove it",
        refusal("{\"messages\": [ /* c */ ]}"));
    assertEquals("the request body is not valid JSON (line 1, column 2): a single quote ('), where JSON's strings and member"
        + " names take double quotes (\")", refusal("{'messages': []}"));
    assertEquals("the request body is not valid JSON (line 1, column 16): a comma before '}', which JSON does not allow (no"
        + " trailing commas); remove it", refusal("{\"messages\": [],}"));
    assertEquals("the request body is not valid JSON (line 1, column 12): a comma before ']', which JSON does not allow (no"
        + " trailing commas); remove it", refusal("{\"a\": [1, 2,\n]}"));
    assertEquals("the request body is not valid JSON (line 1, column 7): a number with a plus sign, which JSON numbers do not"
        + " have; write it without", refusal("{\"a\": +1}"));
    assertEquals("the request body is not valid JSON (line 1, column 7): 'NaN' is no JSON value (JSON has no NaN or"
        + " Infinity); send a number, or leave the field out", refusal("{\"a\": NaN}"));
    assertEquals("the request body is not valid JSON (line 1, column 9): a control character (U+000A) inside a string, which"
        + " JSON does not allow there; write it as \\n", refusal("{\"a\": \"x\ny\"}"));
    assertEquals("the request body is not valid JSON (line 1, column 10): a '}' after the JSON object had ended; remove it",
        refusal("{\"a\":\"b\"}}"));
  }

  /** The place is the fault's first character, in characters of its line, whatever Jackson counted. */
  @Test
  void thePlaceIsTheFaultsFirstCharacter() {
    assertEquals("the request body is not valid JSON (line 1, column 16): 'NaN' is no JSON value (JSON has no NaN or Infinity);"
        + " send a number, or leave the field out", refusal("{\"temperature\":NaN}"));
    assertTrue(refusal("{\n  \"a\": 1,\n  \"temperature\": -Infinity\n}").startsWith(
        "the request body is not valid JSON (line 3, column 18): '-Infinity' is no JSON value"));
    assertTrue(refusal("{\"model\":tandem}").startsWith("the request body is not valid JSON (line 1, column 10): 'tandem' is"
        + " no JSON value"), refusal("{\"model\":tandem}"));
    assertTrue(refusal("{\"x\":\"\\q\"}").startsWith("the request body is not valid JSON (line 1, column 7)"),
        refusal("{\"x\":\"\\q\"}"));
    // A trailing comma is named where it stands, as Python's json (vLLM's) names it.
    assertEquals("the request body is not valid JSON (line 3, column 9): a comma before '}', which JSON does not allow (no"
        + " trailing commas); remove it", refusal("{\n  \"a\": 1,\n  \"b\": 2,\n}"));
    // Columns count characters: an emoji is one, and a lone CR ends a line.
    assertTrue(refusal("{\"a\": \"\ud83d\ude00\", x}").startsWith("the request body is not valid JSON (line 1, column 12)"),
        refusal("{\"a\": \"\ud83d\ude00\", x}"));
    assertTrue(refusal("{\r\"a\": 1,\r}").startsWith("the request body is not valid JSON (line 2, column 7): a comma"),
        refusal("{\r\"a\": 1,\r}"));
  }

  @Test
  void whatComesAfterTheObjectAndControlCharactersOutsideStringsAreNamed() {
    assertEquals("the request body is not valid JSON (line 1, column 8): more JSON after the object had ended (a request body"
        + " is one JSON object); remove it", refusal("{\"a\":1}{\"b\":2}"));
    // A body that begins with another value: what ended is named as what it was.
    assertEquals("the request body is not valid JSON (line 1, column 9): more text ('x') after the string had ended (a request body"
        + " is one JSON object); remove it", refusal("\"hello\" x"));
    assertEquals("the request body is not valid JSON (line 1, column 9): a '}' after the JSON string had ended; remove it",
        refusal("\"hello\" }"));
    assertTrue(refusal("5 6").contains("after the number had ended"));
    assertEquals("the request body is not valid JSON (line 1, column 8): a control character (U+0000) outside any string, which"
        + " JSON does not allow; remove it", refusal("{\"a\":1}\u0000"));
    assertEquals("the request body is not valid JSON (line 1, column 2): a comment, which JSON does not have; remove it",
        refusal("{# c\n}"));
    String bom = refusal("\ufeff{}");
    assertTrue(bom.contains("U+FEFF") && !bom.contains("\ufeff"), bom);
  }

  /** The rest of what hands write: an unquoted word or name, a missing ':' or ',', a body cut short, 05, \\q, .5. */
  @Test
  void missingPunctuationAndUnquotedWordsAreNamedInJsonsTermsToo() {
    assertEquals("the request body is not valid JSON (line 1, column 10): 'tandem' is no JSON value (a string is written in double"
        + " quotes; the words JSON has are true, false and null)", refusal("{\"model\":tandem,\"prompt\":\"x\"}"));
    // Text that is no JSON is said as text (tester59d: "garbage" was called more JSON).
    assertEquals("the request body is not valid JSON (line 1, column 33): more text ('abc') after the object had ended (a request body is"
        + " one JSON object); remove it", refusal("{\"model\":\"tandem\",\"prompt\":\"x\"} abc"));
    assertEquals("the request body is not valid JSON (line 1, column 2): a member name (from 'm') not in double quotes: JSON's"
        + " member names are strings (\"model\")", refusal("{model:\"tandem\"}"));
    assertTrue(refusal("{\"messages\":[], max_tokens: 5}").endsWith("names are strings (\"max_tokens\")"), "the name written");
    assertEquals("the request body is not valid JSON (line 1, column 10): a ':' missing after the member name before it",
        refusal("{\"model\" \"tandem\"}"));
    assertEquals("the request body is not valid JSON (line 1, column 8): a ',' missing between two members of an object",
        refusal("{\"a\":1 \"b\":2}"));
    assertEquals("the request body is not valid JSON (line 1, column 11): the body ends before the object opened at line 1,"
        + " column 1 is closed (a '}' is missing)", refusal("{\"a\":[1,2]"));
    assertTrue(refusal("{\"a\":05}").endsWith("a number with a leading zero, which JSON numbers do not have (only 0 itself and 0.x begin with 0)"));
    assertTrue(refusal("{\"a\":\"\\q\"}").contains("a backslash escape JSON does not have"), refusal("{\"a\":\"\\q\"}"));
    assertTrue(refusal("{\"a\":.5}").endsWith("a number that starts with '.', which JSON numbers do not (write 0.5, not .5)"),
        refusal("{\"a\":.5}"));
  }

  /** A body cut short, a number half written, a value or name missing: JSON's terms, at the fault's first character. */
  @Test
  void unfinishedValuesAndBodiesCutShortAreNamedWhereTheyBegin() {
    String notJson = "the request body is not valid JSON ";
    assertEquals(notJson + "(line 1, column 6): the body ends inside the object that begins at line 1, column 1 (was it cut"
        + " short?); a member is \"name\": value, and an object ends with '}'", refusal("{\"a\":"));
    assertEquals(notJson + "(line 2, column 7): the body ends inside the string that begins at line 2, column 3 (was it cut"
        + " short?); a string ends with '\"'", refusal("{\"a\":\n  \"abc"));
    assertEquals(notJson + "(line 1, column 9): the body ends inside the array that begins at line 1, column 6 (was it cut"
        + " short?); an array ends with ']'", refusal("{\"a\":[1,"));
    assertEquals(notJson + "(line 1, column 6): a '-' not followed by a digit: JSON numbers are written as -5, -0.5 or -1e3",
        refusal("{\"a\":-}"));
    assertEquals(notJson + "(line 1, column 8): a '.' not followed by a digit, which a JSON number needs (write 1.0, 1.5 or 1,"
        + " not 1.)", refusal("{\"a\":12.}"));
    assertEquals(notJson + "(line 1, column 10): the body ends inside the string that begins at line 1, column 6 (was it cut"
        + " short?); a string ends with '\"'", refusal("{\"a\":\"x  "), "the end of the body, its spaces included");
    assertEquals(notJson + "(line 1, column 9): a number whose exponent has no digits (write 1e3, or leave the e out)",
        refusal("{\"a\":1.5e+}"));
    assertEquals(notJson + "(line 1, column 7): a \\u escape without four hex digits after it (as \\u00e9)",
        refusal("{\"a\":\"\\u12\"}"));
    assertEquals(notJson + "(line 1, column 6): a member with no value after its ':'; a JSON value is a string, a number, an"
        + " object, an array, true, false or null", refusal("{\"a\":}"));
    assertEquals(notJson + "(line 1, column 7): a ',' where a value was expected; a JSON value is a string, a number, an object,"
        + " an array, true, false or null", refusal("{\"a\":[,1]}"));
    assertEquals(notJson + "(line 1, column 7): 'x' right after a number, which cannot continue it: JSON numbers are decimal,"
        + " written as 16, -2.5 or 1e3", refusal("{\"a\":0x10}"));
    assertEquals(notJson + "(line 1, column 2): a ':' where a member name was expected: a member is a name in double quotes, a"
        + " ':' and a value (\"model\": \"x\")", refusal("{:1}"));
    assertEquals(notJson + "(line 1, column 6): a number with a leading zero, which JSON numbers do not have (only 0 itself and"
        + " 0.x begin with 0)", refusal("{\"a\":01}"));
  }

  /** Characters pasted from a word processor or a web page, a member given twice, a bracket with nothing to close. */
  @Test
  void lookAlikeCharactersRepeatedMembersAndStrayBracketsAreNamed() {
    String notJson = "the request body is not valid JSON ";
    assertEquals(notJson + "(line 1, column 10): a U+201C (a curly double quote) where a value was expected; a JSON value is a"
        + " string, a number, an object, an array, true, false or null; JSON's strings take plain double quotes (\")",
        refusal("{\"user\": \u201chello\u201d}"));
    assertEquals(notJson + "(line 1, column 2): a member name not in double quotes (it begins with U+201C, a curly double quote):"
        + " JSON's member names are strings in plain double quotes (\"max_tokens\")", refusal("{\u201cmax_tokens\u201d: 5}"));
    // The example names the member written after the no-break space, not a stock one (tester42a).
    assertTrue(refusal("{\"model\": \"x\",\u00a0\"max_tokens\": 5}").contains("(\"max_tokens\")"),
        refusal("{\"model\": \"x\",\u00a0\"max_tokens\": 5}"));
    assertTrue(refusal("{\"a\":\u00a01}").endsWith("a U+00A0 (a no-break space) where a value was expected; a JSON value is a"
        + " string, a number, an object, an array, true, false or null; JSON's whitespace is spaces, tabs and line breaks only"));
    assertEquals(notJson + "(line 1, column 7): a '@' where a value was expected; a JSON value is a string, a number, an object,"
        + " an array, true, false or null", refusal("{\"a\": @1}"));
    String ranOn = "(line 1, column 47): a U+201D (a curly double quote) inside the string that begins at line 1, column 39, which"
        + " it does not end: JSON's strings end with a plain double quote (\"), so the string ran on past it";
    assertEquals(notJson + ranOn + " to the end of the body (unless the body was cut short)",
        refusal("{\"messages\":[{\"role\":\"user\",\"content\":\"Compute\u201d}]}"));
    // Wherever the parser then stops: a line break in the string, a ',' it finds missing after it.
    assertEquals(notJson + ranOn, refusal("{\"messages\":[{\"role\":\"user\",\"content\":\"Compute\u201d}]}\n"));
    assertEquals(notJson + ranOn, refusal("{\"messages\":[{\"role\":\"user\",\"content\":\"Compute\u201d}],\"max_tokens\":20}"));
    assertEquals(notJson + "(line 1, column 47): the body ends inside the string that begins at line 1, column 39 (was it cut"
        + " short?); a string ends with '\"'; the string's last character, at line 1, column 46, is a U+201D (a curly double quote),"
        + " which does not end it: JSON's strings end with a plain double quote (\")",
        refusal("{\"messages\":[{\"role\":\"user\",\"content\":\"Comput\u201d"));
    // Cut short inside a string, the file's last line break after it: the same words as without.
    String cut = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi";
    assertEquals(refusal(cut), refusal(cut + "\n"));
    assertEquals(refusal(cut), refusal(cut + "\r\n"));
    assertTrue(refusal(cut + "\nthere\"}]}").contains("a control character (U+000A) inside a string"), "a line break with more after it");
    // The ',' missing right where the run-on string ended is missing whichever quote ends the string: still the curly quote's.
    assertEquals(notJson + ranOn, refusal("{\"messages\":[{\"role\":\"user\",\"content\":\"Compute\u201d}] \"max_tokens\":20}"));
    assertEquals(notJson + ranOn, refusal("{\"messages\":[{\"role\":\"user\",\"content\":\"Compute\u201d}]\"max_tokens\":20}"));
    assertTrue(refusal("{\"messages\u201d:[{\"role\":\"user\"}]}").startsWith(notJson + "(line 1, column 11): a U+201D"));
    assertTrue(refusal("{\"a\":\"\u201chi\u201d\" 5}").contains("a second value"), "a string that holds curly quotes is a string");
    // Quotes that pair up inside a string are text: the fault elsewhere is named, not them.
    assertTrue(refusal("{\"messages\":[{\"role\":\"user\",\"content\":\"She said \u201cno\u201d, ok\" \"max_tokens\":5}]}").endsWith(
        "a ',' missing between two members of an object"));
    assertTrue(refusal("{\"messages\":[{\"role\":\"user\",\"content\":\"She said \u201cno\u201d, ok\tthen\"}]}").contains(
        "a control character (U+0009) inside a string"));
    assertEquals(notJson + "(line 1, column 18): a second value after a member's value (a ',' missing, or an array meant: [5,"
        + " 6]); a member has one value", refusal("{\"max_tokens\": 5 6}"));
    assertEquals(notJson + "(line 1, column 9): a U+FEFF (a byte order mark) after the JSON object had ended; remove it",
        refusal("{\"a\": 1}\ufeff"));
    assertEquals(notJson + "(line 1, column 1): a '}' with nothing open before it: the body must be a JSON object, {\"model\":"
        + " ...}", refusal("}"));
    assertEquals(notJson + "(line 1, column 9): a '/' outside a string, where JSON has no use for it (and no comments); remove it",
        refusal("{\"a\": 1 /x}"));
    // RFC 8259 leaves repeated names to the reader; vLLM's takes the last. Tandem refuses: which was meant cannot be told.
    assertEquals(notJson + "(line 1, column 19): the member \"max_tokens\" appears twice in the object that begins at line 1,"
        + " column 1; give it once (which of two values is meant cannot be told)",
        refusal("{\"max_tokens\": 5, \"max_tokens\": 6}"));
    assertEquals(notJson + "(line 3, column 6): the member \"mode\" appears twice in the object that begins at line 2, column 13;"
        + " give it once (which of two values is meant cannot be told)",
        refusal("{\n  \"tandem\": {\"mode\": \"small\",\n     \"mode\": \"large\"}}"));
    assertEquals(notJson + "(line 4, column 15): a ':' inside the array that begins at line 2, column 15, which holds values, not"
        + " members: is its ']' missing before this member?",
        refusal("{\n  \"messages\": [\n    {\"role\": \"user\", \"content\": \"hi\"},\n  \"max_tokens\": 10\n}"));
  }

  /** A bracket closing the wrong thing names what is open; the body, over several lines, is never quoted back. */
  @Test
  void aMismatchedBracketNamesWhatIsOpenWithoutQuotingTheBody() {
    String body = "{\n\"model\":\"tandem\",\n\"messages\":[{\"role\":\"user\",\"content\":\"SECRET-xxx\"}\n}";
    assertEquals("the request body is not valid JSON (line 4, column 1): a '}' where the array opened at line 3, column 12 is"
        + " still open (a ']' is missing before it)", refusal(body));
    assertEquals("the request body is not valid JSON (line 1, column 10): a '}' where the array opened at line 1, column 6 is"
        + " still open (a ']' is missing before it)", refusal("{\"a\":[1,2}"));
  }

  @Test
  void otherFaultsKeepTheParsersWordsWithoutItsFeatureNamesOrCharacterCodes() {
    for (String body : new String[] {"{\"a\": .5}", "{\"a\" 1}", "{\"a\": tru}", "{\"a\": 0x10}", "{\"a\": Infinity}"}) {
      String message = refusal(body);
      assertFalse(message.matches(".*(Feature|JsonReadFeature|code \\d+|com\\.fasterxml|Source:).*"), body + ": " + message);
    }
    assertEquals("the request body is not valid JSON (line 1, column 6): a ':' missing after the member name before it",
        refusal("{\"a\" 1}"));
  }
}
