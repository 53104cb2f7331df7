package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.ConfigFactory;
import io.tandem.protocol.SamplingParams;
import org.junit.jupiter.api.Test;

/**
 * A request's {@code top_k}: 0 and -1 both mean every token, as vLLM takes them (-1 its older
 * convention, 0 the one it prefers); below -1 is a 400 naming {@code top_k}.
 */
class TopKTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private static int topK(String value) throws Exception {
    ObjectNode body = (ObjectNode) JSON.readTree("{\"prompt\":\"hi\",\"top_k\":" + value + "}");
    HttpSettings s = HttpSettings.fromConfig(ConfigFactory.load());
    return CompletionRequest.parse(body, false, new CompletionRequest.Limits(s.modelNames(), s.maxMaxTokens(), s.speculative(),
        s.defaultMode(), s.defaultSampling())).sampling().topK();
  }

  @Test
  void zeroAndMinusOneAreBothOff() throws Exception {
    assertEquals(0, topK("0"));
    assertEquals(0, topK("-1"));
    assertEquals(20, topK("20"));
    assertEquals(new SamplingParams(0.6, 0, 0.95, null), new SamplingParams(0.6, -1, 0.95, null),
        "one off, whichever way it was asked for");
  }

  @Test
  void belowMinusOneIsA400NamingTopKAndBothWaysToTurnItOff() {
    ApiError e = assertThrows(ApiError.class, () -> topK("-2"));
    assertEquals(new OpenAi.Error("top_k must be 0 or -1 (off), or at least 1, got -2", "invalid_request_error", "top_k", null),
        e.body().error());
    assertEquals(400, e.status());
    assertEquals("top_k must be 0 or -1 (off), or at least 1, got -99999999999",
        assertThrows(ApiError.class, () -> topK("-99999999999")).body().error().message());
    assertEquals("top_k must be 0 or -1 (off), or at least 1, got -2147483648",
        assertThrows(ApiError.class, () -> topK("-2147483648")).body().error().message());
  }

  /** vLLM sets no upper bound: a top_k at or above the vocabulary keeps every token (tester52c: 1000001 was a 400). */
  @Test
  void anyCountFromOneUpIsTaken() throws Exception {
    assertEquals(1_000_001, topK("1000001"));
    assertEquals(Integer.MAX_VALUE, topK("2147483647"));
    assertEquals(Integer.MAX_VALUE, topK("2147483648"));
    assertEquals(Integer.MAX_VALUE, topK("1e300"));
  }
}
