package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.ConfigFactory;
import io.tandem.protocol.SamplingParams;
import org.junit.jupiter.api.Test;

/** {@code serve --temperature/--top-k/--top-p/--seed}: what a request that leaves a field out gets. */
class DefaultSamplingTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private static SamplingParams parsed(HttpSettings s, String body) throws Exception {
    return CompletionRequest.parse((ObjectNode) JSON.readTree(body), false, new CompletionRequest.Limits(s.modelNames(),
        s.maxMaxTokens(), s.speculative(), s.defaultMode(), s.defaultSampling())).sampling();
  }

  @Test
  void theServersDefaultsFillOnlyWhatARequestLeavesOut() throws Exception {
    HttpSettings paper = HttpSettings.fromConfig(ConfigFactory.load());
    assertEquals(SamplingParams.PAPER, parsed(paper, "{\"prompt\":\"hi\"}"), "unless told otherwise, the paper's");

    HttpSettings told = paper.withDefaultSampling(new SamplingParams(0.0, 0, 1.0, 7L));
    assertEquals(new SamplingParams(0.0, 0, 1.0, 7L), parsed(told, "{\"prompt\":\"hi\"}"));
    assertEquals(new SamplingParams(0.8, 0, 0.5, 9L),
        parsed(told, "{\"prompt\":\"hi\",\"temperature\":0.8,\"top_p\":0.5,\"seed\":9}"), "the request's own win");
    assertEquals(new SamplingParams(0.0, 20, 1.0, 7L), parsed(told, "{\"prompt\":\"hi\",\"top_k\":20}"));
  }
}
