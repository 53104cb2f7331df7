package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Who wrote what ({@code tandem.spans}, each chunk's {@code tandem.author}) is the same with a
 * {@code stop} that never matches as without one: text held back because it may begin a stop
 * string is its writer's when it is shown, though the next writer's token shows it, and each step
 * stays a span of its own (tester53c: with a stop string beginning "\n\n", the "\n\n" that ends
 * every draft was the large model's, and a writer's steps in a row were merged into one span).
 */
class SpansWithStopTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @RegisterExtension
  static final TestServer server = TestServer.start("");

  private static final String BODY = "{\"prompt\":\"Once\",\"max_tokens\":60,\"temperature\":0";

  /** Each span as {@code author reason start-end "text"}. */
  private static List<String> spans(JsonNode body) {
    List<String> out = new ArrayList<>();
    for (JsonNode s : body.at("/tandem/spans"))
      out.add(s.get("author").asText() + " " + s.get("reason").asText() + " " + s.get("start").asInt() + "-"
          + s.get("end").asInt() + " " + JSON.valueToTree(s.get("text").asText()));
    return out;
  }

  /** The streamed text as runs of one author: {@code author "text"}. */
  private static List<String> authorRuns(String sse) throws Exception {
    List<String> runs = new ArrayList<>();
    String author = null;
    StringBuilder run = new StringBuilder();
    for (String line : sse.split("\n")) {
      if (!line.startsWith("data: {")) continue;
      JsonNode chunk = JSON.readTree(line.substring("data: ".length()));
      String text = chunk.at("/choices/0/text").asText("");
      if (text.isEmpty()) continue;
      String by = chunk.at("/tandem/author").asText();
      if (!by.equals(author) && author != null) {
        runs.add(author + " " + JSON.valueToTree(run.toString()));
        run.setLength(0);
      }
      author = by;
      run.append(text);
    }
    if (author != null) runs.add(author + " " + JSON.valueToTree(run.toString()));
    return runs;
  }

  /** The spans' text as runs of one author, as {@link #authorRuns} writes them. */
  private static List<String> authorRuns(JsonNode body) {
    List<String> runs = new ArrayList<>();
    String author = null;
    StringBuilder run = new StringBuilder();
    for (JsonNode s : body.at("/tandem/spans")) {
      if (s.get("text").asText().isEmpty()) continue;
      if (!s.get("author").asText().equals(author) && author != null) {
        runs.add(author + " " + JSON.valueToTree(run.toString()));
        run.setLength(0);
      }
      author = s.get("author").asText();
      run.append(s.get("text").asText());
    }
    if (author != null) runs.add(author + " " + JSON.valueToTree(run.toString()));
    return runs;
  }

  @Test
  void aStopThatNeverMatchesChangesNoSpanAndNoChunksAuthor() throws Exception {
    HttpResponse<String> plain = server.post("/v1/completions", BODY + "}", null);
    JsonNode expected = JSON.readTree(plain.body());
    List<String> spans = spans(expected);
    assertTrue(spans.stream().anyMatch(s -> s.startsWith("large ")) && spans.stream().anyMatch(s -> s.contains("\\n\\n\"")),
        "the large model took over, after a draft that ended in \\n\\n: " + spans);
    String stop = ",\"stop\":[\"\\n\\nZZZ\"]";
    JsonNode withStop = JSON.readTree(server.post("/v1/completions", BODY + stop + "}", null).body());
    assertEquals(expected.at("/choices/0/text"), withStop.at("/choices/0/text"));
    assertEquals(spans, spans(withStop));
    String stream = server.post("/v1/completions", BODY + stop + ",\"stream\":true}", null).body();
    assertEquals(authorRuns(expected), authorRuns(stream), "each chunk names its text's writer");
  }

  /**
   * Cut by a stop string, the spans are the trace's steps through the tokens the client got, with
   * the text it was shown: the held-back start of the stop string stays its writer's.
   */
  @Test
  void aStopStringThatMatchesCutsTheSpansWithoutMovingTextBetweenWriters() throws Exception {
    JsonNode expected = JSON.readTree(server.post("/v1/completions", BODY + "}", null).body());
    List<String> spans = spans(expected);
    JsonNode large = null;
    JsonNode before = null;
    for (JsonNode s : expected.at("/tandem/spans")) {
      if (s.get("author").asText().equals("large") && before != null && before.get("text").asText().endsWith("\n\n")) {
        large = s;
        break;
      }
      before = s;
    }
    assertTrue(large != null && large.get("text").asText().length() > 3, "a takeover after a draft ending in \\n\\n: " + spans);
    // A stop string from the draft's "\n\n" into the takeover's first three characters.
    String stop = "\n\n" + large.get("text").asText().substring(0, 3);
    JsonNode cut = JSON.readTree(server.post("/v1/completions", BODY + ",\"stop\":[" + JSON.valueToTree(stop) + "]}", null).body());
    String text = cut.at("/choices/0/text").asText();
    String whole = expected.at("/choices/0/text").asText();
    assertEquals(whole.indexOf(stop), whole.indexOf(before.get("text").asText()) + before.get("text").asText().length() - 2,
        "the stop string's first match is where the takeover begins");
    assertEquals(whole.substring(0, whole.indexOf(stop)), text, cut.toString());
    List<String> got = spans(cut);
    StringBuilder joined = new StringBuilder();
    for (JsonNode s : cut.at("/tandem/spans")) joined.append(s.get("text").asText());
    assertEquals(text, joined.toString(), "the spans cover the text as cut");
    // The draft before the takeover keeps its range; its text loses the stop string's "\n\n" (cut from the output).
    String draftText = before.get("text").asText();
    String draft = before.get("author").asText() + " " + before.get("reason").asText() + " " + before.get("start").asInt() + "-"
        + before.get("end").asInt() + " " + JSON.valueToTree(draftText.substring(0, draftText.length() - 2));
    assertTrue(got.contains(draft), got + " has the draft " + draft);
    assertEquals(cut.at("/usage/completion_tokens").asInt(), cut.at("/tandem/spans").get(got.size() - 1).get("end").asInt(),
        "the last span ends with the tokens counted");
  }
}
