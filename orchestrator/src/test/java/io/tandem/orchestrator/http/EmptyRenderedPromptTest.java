package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.inference.text.ChatTemplate;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Messages that a model's chat template renders as nothing (a template that only joins the contents,
 * as base models' often do, given an empty message) are a 400 naming messages, as an empty text
 * prompt is, never the forward pass's 500 (tester44a: "cannot truncate a cache of length 0 to -1").
 */
class EmptyRenderedPromptTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("",
      new ChatTemplate("{% for m in messages %}{{ m.content }}{% endfor %}", Map.of()));

  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void messagesRenderedAsNothingAreA400NamingMessages() throws Exception {
    for (String stream : new String[] {"false", "true"}) {
      HttpResponse<String> r = server.post("/v1/chat/completions",
          "{\"messages\":[{\"role\":\"user\",\"content\":\"\"}],\"max_tokens\":3,\"stream\":" + stream + "}", null);
      assertEquals(400, r.statusCode(), r.body());
      JsonNode error = JSON.readTree(r.body()).get("error");
      assertEquals("messages", error.get("param").asText(), r.body());
      assertEquals("the messages render to no tokens: the model's chat template writes nothing of them (it adds no role"
          + " markers, and their content is empty); give a message some text", error.get("message").asText());
    }
    assertEquals(200, server.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}",
        null).statusCode(), "a message with text is served");
  }
}
