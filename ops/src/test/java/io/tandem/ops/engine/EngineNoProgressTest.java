package io.tandem.ops.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.inference.LanguageModel;
import io.tandem.inference.hf.HfModel;
import io.tandem.ops.demo.DemoModels;
import io.tandem.protocol.Role;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * An engine that ends a step with no token and not at its end of sequence (finish_reason "length"
 * or "abort" and nothing else) made no progress: the request fails, naming it, at once. Asked again,
 * the same step was answered the same without end (tester54b: 11,274 times in 340 s, the client
 * waiting without a byte); in a speculative session it was a 200 with finish_reason "stop" and no
 * text.
 */
class EngineNoProgressTest {

  @Test
  void aStepEndedWithNoTokenFailsTheRequestAtOnce() throws Exception {
    Path small = DemoModels.dir().resolve("small");
    try (LanguageModel model = HfModel.load(small, "cpu")) {
      VllmStandIn engine = new VllmStandIn("demo-small", model);
      for (String reason : new String[] {"length", "abort"}) {
        engine.endAtOnceWith = reason;
        try (TandemEngineNode front = new TandemEngineNode("front", Role.small, engine.spec(small, ""), 4)) {
          int before = engine.usages.size();
          // 503s while the engine's first health check has not yet let its worker serve.
          HttpResponse<String> r = EngineLostMidAnswerTest.askUntil(front, answer -> answer.statusCode() != 503);
          assertEquals(500, r.statusCode(), reason + ": " + r.body());
          assertTrue(r.body().contains("\"code\":\"model_error\""), r.body());
          assertTrue(r.body().contains("with finish_reason '" + reason + "' and no token, though up to 50 were asked for: it made"
              + " no progress"), r.body());
          assertEquals(1, engine.usages.size() - before, reason + ": the engine was asked once");
          // Its worker was withdrawn until the engine's health check found it serving: once it answers again, so does the node.
          engine.endAtOnceWith = null;
          HttpResponse<String> again = EngineLostMidAnswerTest.askUntil(front, answer -> answer.statusCode() == 200);
          assertEquals(200, again.statusCode(), again.body());
          engine.endAtOnceWith = reason;
        }
      }
      engine.close();
    }
  }

  /**
   * An engine's context error names the request's prompt as its {@code param}: {@code messages} on chat, {@code prompt} on
   * {@code /v1/completions}, as a context error found before the engine is asked does (tester56c: "messages" on both).
   */
  @Test
  void anEnginesContextErrorNamesTheRequestsPrompt() throws Exception {
    Path small = DemoModels.dir().resolve("small");
    try (LanguageModel model = HfModel.load(small, "cpu")) {
      VllmStandIn engine = new VllmStandIn("demo-small", model);
      engine.refuseBeyond = 40;
      try (TandemEngineNode front = new TandemEngineNode("front", Role.small, engine.spec(small, ""), 4)) {
        HttpResponse<String> chat = EngineLostMidAnswerTest.askUntil(front, answer -> answer.statusCode() != 503);
        assertEquals(400, chat.statusCode(), chat.body());
        assertTrue(chat.body().contains("\"code\":\"context_length_exceeded\"") && chat.body().contains("\"param\":\"messages\""),
            chat.body());
        java.net.http.HttpResponse<String> completion = java.net.http.HttpClient.newHttpClient().send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + front.http.port() + "/v1/completions"))
                .header("Content-Type", "application/json").POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                    "{\"prompt\": \"Compute 1 + 2.\", \"max_tokens\": 50}")).build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(400, completion.statusCode(), completion.body());
        assertTrue(completion.body().contains("\"code\":\"context_length_exceeded\"")
            && completion.body().contains("\"param\":\"prompt\""), completion.body());
      }
      engine.close();
    }
  }
}
