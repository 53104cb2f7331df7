package io.tandem.ops.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tandem.ops.demo.DemoModels;
import io.tandem.ops.eval.EvalRunner;
import io.tandem.protocol.Role;
import io.tandem.protocol.worker.WorkerProtocol;
import org.junit.jupiter.api.Test;

/**
 * A Tandem node serving {@code /v1/completions} as another's engine ends the generation at a
 * {@code stop} string: its worker generates no token past the one that completes it, as vLLM's
 * engine stops there, rather than writing on until the HTTP layer's cancel reaches it.
 */
class EngineNodeStopTest {

  @Test
  void theNodesWorkerGeneratesNoTokenPastTheStopString() throws Exception {
    try (TandemEngineNode engine = new TandemEngineNode("demo-small", Role.small, DemoModels.dir().resolve("small"), 4)) {
      String root = "http://127.0.0.1:" + engine.http.port();
      String user = EvalRunner.PAPER_PROMPT.replace("{problem}", "Compute 12 + 34 + 56 + 78 + 90 + 11.");
      JsonNode prompt = EngineWithoutTokenizerTest.post(root + "/tokenize", "{\"messages\": [{\"role\": \"user\", \"content\": "
          + EngineWithoutTokenizerTest.JSON.writeValueAsString(user) + "}]}", 200).get("tokens");

      // The whole answer first: the stop string must come early in it, with much output after.
      JsonNode whole = EngineWithoutTokenizerTest.post(root + "/v1/completions", "{\"prompt\": " + prompt
          + ", \"max_tokens\": 300, \"temperature\": 0}", 200).get("choices").get(0);
      String text = whole.get("text").asText();
      int at = text.indexOf(" =");
      assertTrue(at > 0 && text.length() > at + 40, "the answer has ' =' early: " + text);
      long before = decoded(engine);

      JsonNode stopped = EngineWithoutTokenizerTest.post(root + "/v1/completions", "{\"prompt\": " + prompt
          + ", \"max_tokens\": 300, \"temperature\": 0, \"stop\": [\" =\"], \"include_stop_str_in_output\": true,"
          + " \"return_token_ids\": true, \"skip_special_tokens\": false}", 200);
      JsonNode choice = stopped.get("choices").get(0);
      assertEquals(text.substring(0, at + 2), choice.get("text").asText(), "the output through the stop string");
      assertEquals("stop", choice.get("finish_reason").asText());
      assertEquals(" =", choice.get("stop_reason").asText());
      int completion = stopped.get("usage").get("completion_tokens").asInt();
      assertEquals(completion, choice.get("token_ids").size());
      assertEquals(completion, decoded(engine) - before, "the worker generated the tokens through the stop string, no more");
    }
  }

  /** Tokens the node's small workers have generated (decoded) so far. */
  static long decoded(TandemEngineNode engine) throws Exception {
    long n = 0;
    for (WorkerProtocol.WorkerStats s : EngineDemoTest.stats(engine.node, Role.small)) n += s.decodeTokens();
    return n;
  }
}
