package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * What {@code bench http} counts as a result and its completion tokens ({@link
 * BenchHttpCommand#resultTokens}): the answer read as JSON, as OpenAI and Python's json write it too
 * (tester53f: {@code "completion_tokens": 7} was read as 0; a page quoting a result counted as one;
 * a stream with usage in every chunk counted its first).
 */
class BenchHttpResultTest {
  private static final String CHOICE = "{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"3\"}}";

  @Test
  void aResultIsReadAsJsonWhateverItsSpacing() {
    assertEquals(7, BenchHttpCommand.resultTokens("{\"choices\": [" + CHOICE + "], \"usage\": {\"completion_tokens\": 7}}", false));
    assertEquals(7, BenchHttpCommand.resultTokens("{\n  \"choices\": [" + CHOICE + "],\n  \"usage\": {\n    \"completion_tokens\": 7\n  }\n}",
        false));
    assertEquals(7, BenchHttpCommand.resultTokens("{\"choices\":[" + CHOICE + "],\"usage\":{\"completion_tokens\":7}}", false));
  }

  @Test
  void whatIsNoResultIsMinusOne() {
    assertEquals(-1, BenchHttpCommand.resultTokens("<html><pre>{\"choices\": [" + CHOICE + "], \"usage\": {\"completion_tokens\": 5}}"
        + "</pre></html>", false), "a page quoting a result");
    assertEquals(-1, BenchHttpCommand.resultTokens("{\"choices\": [], \"usage\": {\"completion_tokens\": 0}}", false), "no choice");
    assertEquals(-1, BenchHttpCommand.resultTokens("{\"choices\": [" + CHOICE + "]}", false), "no usage");
    assertEquals(-1, BenchHttpCommand.resultTokens("", false));
    // A count no answer has (tester53h: 10^20 wrapped to a negative rate).
    assertEquals(-1, BenchHttpCommand.resultTokens("{\"choices\": [" + CHOICE + "], \"usage\": {\"completion_tokens\":"
        + " 99999999999999999999}}", false));
    assertEquals(-1, BenchHttpCommand.resultTokens("{\"choices\": [" + CHOICE + "], \"usage\": {\"completion_tokens\": -3}}",
        false));
  }

  /** An error event is one with or without the space SSE allows after {@code data:} (tester53h: the compact one was "no result"). */
  @Test
  void aStreamsErrorEventIsFoundWithOrWithoutTheSpace() {
    assertEquals(true, BenchHttpCommand.streamError("data: {\"choices\": []}\n\ndata: {\"error\": {\"message\": \"boom\"}}\n\n"));
    assertEquals(true, BenchHttpCommand.streamError("data:{\"choices\": []}\n\ndata:{\"error\":{\"message\":\"boom\"}}\n\n"));
    assertEquals(false, BenchHttpCommand.streamError("data: {\"choices\": [{\"delta\": {\"content\": \"data: {\\\"error\\\"\"}}]}\n\n"));
  }

  @Test
  void aStreamCountsItsLastUsage() {
    String chunk = "data: {\"choices\": [{\"index\": 0, \"delta\": {\"content\": \"a\"}}]";
    String stream = chunk + ", \"usage\": {\"completion_tokens\": 1}}\n\n" + chunk + ", \"usage\": {\"completion_tokens\": 2}}\n\n"
        + "data: {\"choices\": [], \"usage\": {\"completion_tokens\": 2}}\n\ndata: [DONE]\n\n";
    assertEquals(2, BenchHttpCommand.resultTokens(stream, true));
    assertEquals(-1, BenchHttpCommand.resultTokens(chunk + "}\n\ndata: [DONE]\n\n", true), "no usage: not asked for, or not given");
    assertEquals(-1, BenchHttpCommand.resultTokens("<html>busy</html>", true));
    // The last usage is the answer's, a bad one included (tester53i: an earlier valid one was kept).
    assertEquals(-1, BenchHttpCommand.resultTokens(chunk + ", \"usage\": {\"completion_tokens\": 5}}\n\n"
        + "data: {\"choices\": [], \"usage\": {\"completion_tokens\": -7}}\n\ndata: [DONE]\n\n", true));
  }
}
