package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * What a body's shape may be before its tree is built: nested at most 64 levels (Jackson 2.13 has
 * no limit and recurses), numbers written with at most 1,000 characters (it converts them in time
 * that grows with their square).
 */
class JsonShapeTest {

  private static String nested(int levels, String inner) {
    return "{\"a\":" + "[".repeat(levels - 1) + inner + "]".repeat(levels - 1) + "}";
  }

  @Test
  void aBodyNestedDeeperThan64LevelsIsA400SayingSo() {
    assertEquals(1, Json.parseObject(nested(Json.MAX_DEPTH, "1")).size());
    for (String body : new String[] {nested(Json.MAX_DEPTH + 1, "1"), "{\"a\":" + "[".repeat(1_000_000),
        "{\"b\":\"[[[\"," + nested(Json.MAX_DEPTH + 1, "1").substring(1)}) {
      ApiError e = assertThrows(ApiError.class, () -> Json.parseObject(body));
      assertEquals(400, e.status());
      // Naming the field it is in, and what to do (tester45a read the bare limit).
      assertEquals("the request body nests JSON deeper than 64 levels, in a; no field of a request takes that many: send a"
          + " flatter value", e.body().error().message());
      assertEquals("a", e.body().error().param());
    }
  }

  @Test
  void aLongNumberOutsideAnyFieldIsNamedAsTheBody() {
    ApiError e = assertThrows(ApiError.class, () -> Json.parseObject("1".repeat(1001)));
    assertEquals("the request body is a number written with 1001 characters; a request's numbers may have at most 1000",
        e.body().error().message());
  }

  /** An array is refused as not an object before anything in it is read, however deep or long. */
  @Test
  void anArrayIsRefusedAsNotAnObjectWhateverItHolds() {
    for (String body : new String[] {"[1]", "[" + "1".repeat(1001) + "]", "[".repeat(1_000_000)}) {
      ApiError e = assertThrows(ApiError.class, () -> Json.parseObject(body));
      assertEquals("the request body must be a JSON object, got an array", e.body().error().message());
    }
  }

  /** A body that is not JSON is reported by the tree's reader, whatever the shape check read of it first. */
  @Test
  void aBodyThatIsNotJsonIsReportedWhereItBreaks() {
    ApiError e = assertThrows(ApiError.class, () -> Json.parseObject("{\"a\":[1,2,}"));
    assertTrue(e.body().error().message().startsWith("the request body is not valid JSON (line 1, column 11)"),
        e.body().error().message());
    ApiError trailing = assertThrows(ApiError.class, () -> Json.parseObject("{\"a\":1} {\"b\":" + "9".repeat(2000) + "}"));
    assertTrue(trailing.body().error().message().startsWith("the request body is not valid JSON"), trailing.body().error().message());
    assertEquals("the request body holds only whitespace; send a JSON object",
        assertThrows(ApiError.class, () -> Json.parseObject("  \n ")).body().error().message());
    // Where an object opened, not Jackson's quote of the body it read.
    assertEquals("the request body is not valid JSON (line 1, column 10): the body ends before the object opened at line 1,"
        + " column 1 is closed (a '}' is missing)", assertThrows(ApiError.class, () -> Json.parseObject("{\"a\":\"];\"")).body().error()
        .message());
  }
}
