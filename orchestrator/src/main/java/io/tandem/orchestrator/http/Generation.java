package io.tandem.orchestrator.http;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.orchestrator.TraceJson;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.protocol.Author;
import io.tandem.protocol.Counters;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Span;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Trace;
import java.util.ArrayList;
import java.util.List;

/**
 * One request's output as the client sees it: consumes the session's events in order, applies
 * {@code stop} strings and the reasoning split, and writes OpenAI's chunks (streaming) or the final
 * object. Not thread-safe: it lives inside one stream stage.
 */
final class Generation {

  /** A thing to send: one SSE {@code data:} payload; {@code last} ends the stream. */
  record Out(String data, boolean last) {}

  /** A span of visible output as the deltas built it (when no trace is available). */
  private record Piece(Author author, SpanReason reason, int start, int end, StringBuilder text) {}

  final String id;
  final long created;
  final CompletionRequest request;
  private final String model;
  private final ReasoningSplitter splitter;
  private final int maxStop;

  private final StringBuilder content = new StringBuilder();
  private final StringBuilder reasoning = new StringBuilder();
  private final StringBuilder text = new StringBuilder();
  private final List<Piece> pieces = new ArrayList<>();
  private String held = "";
  private int tokens;
  private final int[] tokensByAuthor = new int[Author.values().length];
  private boolean sentRole;

  // How it ended.
  boolean done;
  String finishReason;
  String tandemFinishReason;
  Trace trace;
  boolean degraded;
  int promptTokens;
  int completionTokens;
  SessionEvent.Failed failed;

  Generation(String id, long created, CompletionRequest request, ReasoningSplitter.Mode reasoningMode) {
    this.id = id;
    this.created = created;
    this.request = request;
    this.model = request.model();
    this.splitter = new ReasoningSplitter(request.chat() ? reasoningMode : ReasoningSplitter.Mode.NONE);
    int m = 0;
    for (String s : request.stop()) m = Math.max(m, s.length());
    this.maxStop = m;
  }

  int tokens() {
    return tokens;
  }

  int tokensBy(Author a) {
    return tokensByAuthor[a.ordinal()];
  }

  /** What the event makes visible; a stop string or the session's end ends it. */
  List<Out> onEvent(SessionEvent e) {
    List<Out> out = new ArrayList<>();
    if (done) return out;
    if (e instanceof SessionEvent.Delta d) onDelta(d, out);
    else if (e instanceof SessionEvent.Finished f) onFinished(f, out);
    else if (e instanceof SessionEvent.Failed f) onFailed(f, out);
    return out;
  }

  private void onDelta(SessionEvent.Delta d, List<Out> out) {
    tokens += d.tokens().size();
    tokensByAuthor[d.author().ordinal()] += d.tokens().size();
    String candidate = held + d.text();
    held = "";
    int cut = -1;
    for (String s : request.stop()) {
      int i = candidate.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      visible(d.author(), d.reason(), d.tokens().size(), candidate.substring(0, cut), out);
      for (ReasoningSplitter.Piece p : splitter.flush()) piece(d.author(), p, out);
      end("stop", "stop", out);
      return;
    }
    int keep = heldBack(candidate);
    held = candidate.substring(candidate.length() - keep);
    visible(d.author(), d.reason(), d.tokens().size(), candidate.substring(0, candidate.length() - keep), out);
  }

  /** The longest suffix that may be the start of a stop string: it waits for the next delta. */
  private int heldBack(String s) {
    for (int n = Math.min(s.length(), maxStop - 1); n > 0; n--) {
      String suffix = s.substring(s.length() - n);
      for (String stop : request.stop()) if (stop.startsWith(suffix)) return n;
    }
    return 0;
  }

  private void visible(Author author, SpanReason reason, int nTokens, String t, List<Out> out) {
    Piece last = pieces.isEmpty() ? null : pieces.get(pieces.size() - 1);
    int start = last == null ? 0 : last.end();
    if (last != null && last.author() == author && last.reason() == reason) {
      pieces.set(pieces.size() - 1, new Piece(author, reason, last.start(), last.end() + nTokens, last.text().append(t)));
    } else {
      pieces.add(new Piece(author, reason, start, start + nTokens, new StringBuilder(t)));
    }
    if (t.isEmpty()) return;
    text.append(t);
    for (ReasoningSplitter.Piece p : splitter.feed(t)) piece(author, p, out);
  }

  private void piece(Author author, ReasoningSplitter.Piece p, List<Out> out) {
    (p.reasoning() ? reasoning : content).append(p.text());
    if (!request.stream()) return;
    ObjectNode chunk = chunkHead();
    ObjectNode choice = ((ArrayNode) chunk.get("choices")).addObject();
    choice.put("index", 0);
    if (request.chat()) {
      ObjectNode delta = choice.putObject("delta");
      if (!sentRole) {
        delta.put("role", "assistant");
        sentRole = true;
      }
      delta.put(p.reasoning() ? "reasoning_content" : "content", p.text());
    } else {
      choice.put("text", p.text());
    }
    choice.putNull("logprobs");
    choice.putNull("finish_reason");
    chunk.putObject("tandem").put("author", author.name());
    out.add(new Out(Json.write(chunk), false));
  }

  private void onFinished(SessionEvent.Finished f, List<Out> out) {
    trace = f.trace();
    degraded = f.degraded();
    promptTokens = f.usage().promptTokens();
    completionTokens = f.usage().completionTokens();
    if (!held.isEmpty()) {
      String h = held;
      held = "";
      Piece last = pieces.isEmpty() ? null : pieces.get(pieces.size() - 1);
      visible(last == null ? Author.small : last.author(), last == null ? SpanReason.draft : last.reason(), 0, h, out);
    }
    Author lastAuthor = pieces.isEmpty() ? Author.small : pieces.get(pieces.size() - 1).author();
    for (ReasoningSplitter.Piece p : splitter.flush()) piece(lastAuthor, p, out);
    FinishReason r = f.trace().finishReason();
    String openAi = r == FinishReason.length || r == FinishReason.timeout ? "length" : "stop";
    end(openAi, r == null ? openAi : r.name(), out);
  }

  private void onFailed(SessionEvent.Failed f, List<Out> out) {
    failed = f;
    done = true;
    if (request.stream()) {
      out.add(new Out(Json.write(CompletionService.errorFor(f).toJson()), false));
      out.add(new Out("[DONE]", true));
    }
  }

  private void end(String openAiReason, String tandemReason, List<Out> out) {
    done = true;
    finishReason = openAiReason;
    tandemFinishReason = tandemReason;
    if (trace == null) completionTokens = tokens;
    if (!request.stream()) return;
    ObjectNode chunk = chunkHead();
    ObjectNode choice = ((ArrayNode) chunk.get("choices")).addObject();
    choice.put("index", 0);
    if (request.chat()) choice.putObject("delta");
    else choice.put("text", "");
    choice.putNull("logprobs");
    choice.put("finish_reason", openAiReason);
    chunk.set("tandem", tandem(false));
    out.add(new Out(Json.write(chunk), false));
    if (request.includeUsage()) {
      ObjectNode u = chunkHead();
      u.set("usage", usage());
      out.add(new Out(Json.write(u), false));
    }
    out.add(new Out("[DONE]", true));
  }

  private ObjectNode chunkHead() {
    ObjectNode c = Json.object();
    c.put("id", id);
    c.put("object", request.chat() ? "chat.completion.chunk" : "text_completion");
    c.put("created", created);
    c.put("model", model);
    c.putArray("choices");
    return c;
  }

  ObjectNode usage() {
    ObjectNode u = Json.object();
    u.put("prompt_tokens", promptTokens);
    u.put("completion_tokens", completionTokens);
    u.put("total_tokens", promptTokens + completionTokens);
    return u;
  }

  /** Tandem's own account: who wrote what, the counters of the trace, and whether it degraded. */
  ObjectNode tandem(boolean withSpans) {
    ObjectNode t = Json.object();
    t.put("mode", request.mode().name());
    t.put("finish_reason", tandemFinishReason);
    t.put("degraded", degraded);
    if (trace != null) {
      t.set("counters", TraceJson.counters(trace.counters()));
    } else {
      ObjectNode c = t.putObject("counters");
      ObjectNode tk = c.putObject("tokens");
      for (Author a : Author.values()) tk.put(a.name(), tokensBy(a));
    }
    if (withSpans) {
      ArrayNode spans = t.putArray("spans");
      if (trace != null && request.stop().isEmpty()) {
        for (Span s : trace.spans()) span(spans, s.author(), s.reason(), s.start(), s.end(), s.text());
      } else {
        for (Piece p : pieces) span(spans, p.author(), p.reason(), p.start(), p.end(), p.text().toString());
      }
    }
    return t;
  }

  Counters counters() {
    return trace == null ? null : trace.counters();
  }

  private static void span(ArrayNode spans, Author a, SpanReason r, int start, int end, String text) {
    ObjectNode o = spans.addObject();
    o.put("author", a.name());
    o.put("reason", r.name());
    o.put("start", start);
    o.put("end", end);
    o.put("text", text);
  }

  /** The non-streaming response object. */
  ObjectNode response() {
    ObjectNode r = Json.object();
    r.put("id", id);
    r.put("object", request.chat() ? "chat.completion" : "text_completion");
    r.put("created", created);
    r.put("model", model);
    ObjectNode choice = r.putArray("choices").addObject();
    choice.put("index", 0);
    if (request.chat()) {
      ObjectNode m = choice.putObject("message");
      m.put("role", "assistant");
      if (content.length() > 0 || reasoning.length() == 0) m.put("content", content.toString());
      else m.putNull("content");
      if (reasoning.length() > 0) m.put("reasoning_content", reasoning.toString());
      m.putNull("refusal");
    } else {
      choice.put("text", text.toString());
    }
    choice.putNull("logprobs");
    choice.put("finish_reason", finishReason);
    r.set("usage", usage());
    r.set("tandem", tandem(true));
    return r;
  }
}
