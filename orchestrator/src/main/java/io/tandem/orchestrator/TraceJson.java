package io.tandem.orchestrator;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.protocol.Counters;
import io.tandem.protocol.Span;
import io.tandem.protocol.Trace;

/** The JSON form of a trace, as {@code --trace} writes it and the HTTP API's {@code tandem} object holds it. */
public final class TraceJson {
  private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public static ObjectNode toJson(Trace trace) {
    ObjectNode root = MAPPER.createObjectNode();
    root.put("text", trace.text());
    root.put("finish_reason", trace.finishReason() == null ? null : trace.finishReason().name());
    ArrayNode spans = root.putArray("spans");
    for (Span s : trace.spans()) {
      ObjectNode o = spans.addObject();
      o.put("author", s.author().name());
      o.put("reason", s.reason().name());
      o.put("start", s.start());
      o.put("end", s.end());
      o.put("text", s.text());
    }
    root.set("counters", counters(trace.counters()));
    return root;
  }

  public static ObjectNode counters(Counters c) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("triggers", c.triggers());
    o.put("lookaheads", c.lookaheads());
    o.put("takeovers", c.takeovers());
    o.put("verifies", c.verifies());
    o.put("recaps", c.recaps());
    o.put("negatives", c.negatives());
    ObjectNode tokens = o.putObject("tokens");
    tokens.put("small", c.smallTokens());
    tokens.put("large", c.largeTokens());
    tokens.put("injected", c.injectedTokens());
    o.put("small_tokens_discarded", c.smallTokensDiscarded());
    o.put("large_tokens_discarded", c.largeTokensDiscarded());
    o.put("takeovers_skipped", c.takeoversSkipped());
    return o;
  }

  public static String write(ObjectNode node) {
    try {
      return MAPPER.writeValueAsString(node);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private TraceJson() {}
}
