package io.tandem.orchestrator.http;

import io.tandem.orchestrator.TraceJson;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.protocol.Author;
import io.tandem.protocol.Counters;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Span;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Token;
import io.tandem.protocol.Trace;
import io.tandem.protocol.text.Plural;
import io.tandem.protocol.text.StopStrings;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One request's output as the client sees it: consumes the session's events in order, applies
 * {@code stop} strings (with the one matcher, {@link StopStrings}) and the reasoning split, and
 * writes OpenAI's chunks (streaming) or the final object. Usage is right for every ending: the
 * prompt's tokens as a worker counted them before the session started, and the output tokens the
 * client received (through the token that completed a stop string, when one ended it). Not
 * thread-safe: it lives inside one stream stage.
 */
final class Generation {

  /** A thing to send: one SSE {@code data:} payload; {@code last} ends the stream. */
  record Out(String data, boolean last) {}

  /**
   * A span of visible output as the deltas built it (when no trace covers the output): tokens
   * {@code [start, end)} and the text of them shown so far.
   */
  private static final class Piece {
    final Author author;
    final SpanReason reason;
    final int start;
    int end;
    final StringBuilder text = new StringBuilder();

    Piece(Author author, SpanReason reason, int start) {
      this.author = author;
      this.reason = reason;
      this.start = start;
      this.end = start;
    }
  }

  final String id;
  final long created;
  final CompletionRequest request;
  private final String model;
  private final ReasoningSplitter splitter;
  private final StopStrings stops;
  private final RetryAfter retryAfter;

  private final StringBuilder content = new StringBuilder();
  private final StringBuilder reasoning = new StringBuilder();
  /** Every character of output seen, the held-back tail included (what stop strings are looked for in). */
  private final StringBuilder seen = new StringBuilder();
  /** How much of {@link #seen} is visible; the rest may be the start of a stop string. */
  private int shown;
  private final List<Piece> pieces = new ArrayList<>();
  /**
   * Who wrote {@link #seen}: each entry {@code {end, piece}} says that the piece of that index wrote
   * {@code seen} from the previous entry's end to {@code end}. Text held back (the start of a stop
   * string, perhaps) is its writer's when it is shown, though the next writer's token shows it
   * (tester53c: the "\n\n" ending every draft was the large model's with a stop string beginning "\n\n").
   */
  private final List<int[]> writtenBy = new ArrayList<>();
  private int tokens;
  private final int[] tokensByAuthor = new int[Author.values().length];
  private boolean sentRole;
  /** The prompt's token ids as the model reads them: given by the client, or as a worker counted the prompt (null when unknown). */
  private final List<Integer> promptTokenIds;
  /** With {@code return_token_ids}: the output's ids, and those not yet sent in a chunk. */
  private final List<Integer> ids = new ArrayList<>();
  private final List<Integer> unsentIds = new ArrayList<>();
  private boolean sentPromptIds;
  /** The stop string or stop token id that ended the output; null when none did (vLLM's {@code stop_reason}). */
  private Object stopReason;
  /**
   * A stop string or stop token ended the output: nothing more is shown, and the output ends with the session's
   * end, whose trace has the counters of what ran before the stop.
   */
  private boolean cutByStop;

  // How it ended.
  boolean done;
  String finishReason;
  String tandemFinishReason;
  Trace trace;
  boolean degraded;
  /** How long the session's steps waited in workers' queues ({@link SessionEvent.Finished#queueNanos}); 0 until its end. */
  long queueNanos;
  int promptTokens;
  /** Of {@link #promptTokens}, those read from a worker's prefix cache, known at the session's end; -1: not known. */
  private int cachedTokens = -1;
  SessionEvent.Failed failed;

  /**
   * @param promptTokens the prompt's tokens as a worker counted them before the session started
   * @param promptTokenIds those tokens' ids, for {@code return_token_ids} (null when not known)
   */
  Generation(String id, long created, CompletionRequest request, ReasoningSplitter.Mode reasoningMode, int promptTokens,
      List<Integer> promptTokenIds, RetryAfter retryAfter) {
    this.id = id;
    this.created = created;
    this.request = request;
    this.model = request.model();
    this.splitter = new ReasoningSplitter(request.chat() ? reasoningMode : ReasoningSplitter.Mode.NONE);
    this.stops = new StopStrings(request.stop());
    this.promptTokens = promptTokens;
    this.promptTokenIds = promptTokenIds == null ? null : List.copyOf(promptTokenIds);
    this.retryAfter = retryAfter;
  }

  /** Output tokens received so far (through a stop string's last token when one ended it). */
  int tokens() {
    return tokens;
  }

  int tokensBy(Author a) {
    return tokensByAuthor[a.ordinal()];
  }

  /**
   * True once a stop string has ended the output and before the session's end has been read: its
   * session should be told to stop ({@code SessionActor.Stop}), and ends with its counters.
   */
  boolean cutByStop() {
    return cutByStop && !done;
  }

  /**
   * What the event makes visible; the session's end ends it. After a stop string only the
   * session's end is read, for its counters (a failure's partial trace has them too).
   */
  List<Out> onEvent(SessionEvent e) {
    List<Out> out = new ArrayList<>();
    if (done) return out;
    if (cutByStop) {
      if (e instanceof SessionEvent.Finished f) {
        trace = f.trace();
        degraded = f.degraded();
        queueNanos = f.queueNanos();
        cachedTokens = Math.min(f.usage().cachedTokens(), promptTokens);
      } else if (e instanceof SessionEvent.Failed f) {
        trace = f.partial();
      } else {
        return out;
      }
      end("stop", "stop", out);
      return out;
    }
    if (request.stream() && request.chat() && !sentRole && !(e instanceof SessionEvent.Failed)) roleChunk(e, out);
    if (e instanceof SessionEvent.Delta d) onDelta(d, out);
    else if (e instanceof SessionEvent.Finished f) onFinished(f, out);
    else if (e instanceof SessionEvent.Failed f) onFailed(f, out);
    return out;
  }

  /**
   * A chat stream's first chunk: the role, with empty content (and, with {@code return_token_ids},
   * the prompt's ids), before any output, as OpenAI and vLLM send it: clients such as the OpenAI
   * SDKs' stream helpers build the message from it, and fail on a stream without one (an empty
   * output included).
   */
  private void roleChunk(SessionEvent first, List<Out> out) {
    sentRole = true;
    OpenAi.ChunkChoice choice = new OpenAi.ChunkChoice(0, new OpenAi.Delta("assistant", "", null), null, null, null);
    Object author = first instanceof SessionEvent.Delta d ? new OpenAi.Author(d.author().name()) : null;
    out.add(new Out(Json.write(new OpenAi.Chunk(id, "chat.completion.chunk", created, model, List.of(choice), noUsage(),
        promptIds(), author)), false));
  }

  private void onDelta(SessionEvent.Delta d, List<Out> out) {
    // Known before the end: an answer cut before Finished (a shutdown's deadline, a failure) reports it too.
    if (d.cachedTokens() >= 0) cachedTokens = Math.min(d.cachedTokens(), promptTokens);
    int piece = pieceFor(d.author(), d.reason());
    int counted = 0;
    for (Token t : d.tokens()) {
      counted++;
      if (request.engine().returnTokenIds()) {
        ids.add(t.id());
        unsentIds.add(t.id());
      }
      boolean stopToken = request.engine().stopTokenIds().contains(t.id());
      // A stop token's text is the stop's: vLLM's detokenizer leaves it out unless asked to keep it,
      // before it looks for stop strings, so none is found in that text then.
      if (stopToken && !request.engine().includeStopStrInOutput()) {
        cut(d, piece, counted, t.id(), seen.length(), out);
        return;
      }
      seen.append(t.text());
      written(piece);
      Optional<StopStrings.Match> m = stops.find(seen, t.text().length());
      if (m.isPresent()) {
        cut(d, piece, counted, m.get().stop(), request.engine().includeStopStrInOutput() ? m.get().end() : m.get().start(), out);
        return;
      }
      if (stopToken) {
        cut(d, piece, counted, t.id(), seen.length(), out);
        return;
      }
    }
    count(d.author(), counted);
    // Text that may begin a stop string is held back only when the stop string would be cut from
    // the output; kept in it, nothing is cut, and each chunk's text stays with its token ids (as
    // vLLM holds back only then: its detokenizer's stop_buffer_length).
    int held = request.engine().includeStopStrInOutput() ? 0 : stops.partialMatchLength(seen);
    visible(piece, counted, seen.length() - held, out);
    idsOnly(d.author(), out);
  }

  /** The piece {@code author}'s tokens written for {@code reason} go to: the last one, or a new one after it. */
  private int pieceFor(Author author, SpanReason reason) {
    Piece last = pieces.isEmpty() ? null : pieces.get(pieces.size() - 1);
    if (last != null && last.author == author && last.reason == reason) return pieces.size() - 1;
    pieces.add(new Piece(author, reason, last == null ? 0 : last.end));
    return pieces.size() - 1;
  }

  /** {@link #seen}'s end was written by the piece {@code piece}. */
  private void written(int piece) {
    int[] last = writtenBy.isEmpty() ? null : writtenBy.get(writtenBy.size() - 1);
    if (last != null && last[1] == piece) last[0] = seen.length();
    else writtenBy.add(new int[] {seen.length(), piece});
  }

  /**
   * Ends the output at the {@code counted}-th token of {@code d}, with {@code seen[shown, upTo)} made
   * visible and {@code stopReason} what ended it (a stop string, or a stop token's id).
   */
  private void cut(SessionEvent.Delta d, int piece, int counted, Object stopReason, int upTo, List<Out> out) {
    count(d.author(), counted);
    this.stopReason = stopReason;
    visible(piece, counted, upTo, out);
    for (ReasoningSplitter.Piece p : splitter.flush()) piece(d.author(), p, out);
    idsOnly(d.author(), out);
    cutByStop = true;
  }

  /** With {@code return_token_ids}, a chunk for ids whose text is held back (or empty, as a special token's). */
  private void idsOnly(Author author, List<Out> out) {
    if (!request.stream() || unsentIds.isEmpty()) return;
    OpenAi.ChunkChoice choice = request.chat()
        ? new OpenAi.ChunkChoice(0, new OpenAi.Delta(null, null, null), null, null, null, null, null, sendIds())
        : new OpenAi.ChunkChoice(0, null, "", null, null, null, promptIds(), sendIds());
    out.add(new Out(Json.write(chunk(List.of(choice), null, new OpenAi.Author(author.name()))), false));
  }

  /** The ids not sent yet (null without {@code return_token_ids}), now sent. */
  private List<Integer> sendIds() {
    if (!request.engine().returnTokenIds()) return null;
    List<Integer> out = List.copyOf(unsentIds);
    unsentIds.clear();
    return out;
  }

  /**
   * With {@code return_token_ids}, the prompt's token ids, once: on a chat stream's first chunk, or
   * on a completion stream's first chunk that carries ids (null otherwise).
   */
  private List<Integer> promptIds() {
    if (!request.engine().returnTokenIds() || sentPromptIds) return null;
    sentPromptIds = true;
    return promptTokenIds;
  }

  private void count(Author author, int n) {
    tokens += n;
    tokensByAuthor[author.ordinal()] += n;
  }

  /**
   * Counts {@code nTokens} more tokens to the last piece, {@code piece}, and makes {@code seen[shown,
   * upTo)} visible, each part of it as its writer's ({@link #writtenBy}).
   */
  private void visible(int piece, int nTokens, int upTo, List<Out> out) {
    if (piece >= 0) pieces.get(piece).end += nTokens;
    int from = shown;
    shown = Math.max(shown, upTo);
    int begin = 0;
    for (int[] w : writtenBy) {
      int a = Math.max(begin, from);
      int b = Math.min(w[0], shown);
      begin = w[0];
      if (a >= b) continue;
      Piece by = pieces.get(w[1]);
      String t = seen.substring(a, b);
      by.text.append(t);
      for (ReasoningSplitter.Piece p : splitter.feed(t)) piece(by.author, p, out);
    }
  }

  private void piece(Author author, ReasoningSplitter.Piece p, List<Out> out) {
    (p.reasoning() ? reasoning : content).append(p.text());
    if (!request.stream()) return;
    OpenAi.ChunkChoice choice;
    if (request.chat()) {
      OpenAi.Delta delta = p.reasoning() ? new OpenAi.Delta(null, null, p.text()) : new OpenAi.Delta(null, p.text(), null);
      choice = new OpenAi.ChunkChoice(0, delta, null, null, null, null, null, sendIds());
    } else {
      choice = new OpenAi.ChunkChoice(0, null, p.text(), null, null, null, promptIds(), sendIds());
    }
    out.add(new Out(Json.write(chunk(List.of(choice), null, new OpenAi.Author(author.name()))), false));
  }

  private void onFinished(SessionEvent.Finished f, List<Out> out) {
    trace = f.trace();
    degraded = f.degraded();
    queueNanos = f.queueNanos();
    cachedTokens = Math.min(f.usage().cachedTokens(), promptTokens);
    showHeld(out);
    FinishReason r = f.trace().finishReason();
    String openAi = r == FinishReason.length || r == FinishReason.timeout ? "length" : "stop";
    end(openAi, r == null ? openAi : r.name(), out);
  }

  /**
   * Makes visible what was held back: text that might have begun a stop string, which none ended,
   * and what the reasoning splitter still holds. The output is at its end.
   */
  private void showHeld(List<Out> out) {
    Author lastAuthor = pieces.isEmpty() ? Author.small : pieces.get(pieces.size() - 1).author;
    visible(-1, 0, seen.length(), out);
    for (ReasoningSplitter.Piece p : splitter.flush()) piece(lastAuthor, p, out);
    idsOnly(lastAuthor, out);
  }

  private void onFailed(SessionEvent.Failed f, List<Out> out) {
    failed = f;
    done = true;
    if (request.stream()) {
      // The tokens counted as sent are: their held-back text goes out before the error, as at a length end.
      showHeld(out);
      // The tokens sent are the client's to count though the stream ends in an error (OpenAI allows the
      // usage chunk to be missing then, and vLLM leaves it out): asked for, it comes before the error.
      if (request.includeUsage()) out.add(new Out(Json.write(chunk(List.of(), usage(), null)), false));
      out.add(new Out(Json.write(error().body()), false));
      out.add(new Out("[DONE]", true));
    }
  }

  /**
   * The end of a stream whose client left before its session ended, for a client that only shut
   * down its sending side (a TCP half-close) and may still read: as at a failure, the text held back
   * and, when asked for, the usage of what was sent, then the {@code client_closed_request} error
   * event and {@code [DONE]} (tester50a: the usage chunk was missing here alone).
   */
  List<Out> clientClosed() {
    List<Out> out = new ArrayList<>();
    showHeld(out);
    if (request.includeUsage()) out.add(new Out(Json.write(chunk(List.of(), usage(), null)), false));
    out.add(new Out(Json.write(ApiError.clientClosed().body()), false));
    out.add(new Out("[DONE]", true));
    return out;
  }

  /**
   * The failure as the client sees it. In a stream the message says the output sent stands (the
   * stream's error event never takes back text the client has); a non-streaming request answers
   * with the result or the error, so the output written before the failure is not returned.
   */
  ApiError error() {
    String m = failed.message() == null ? "the generation failed" : failed.message();
    if (tokens > 0 && request.stream()) m += " (after " + Plural.count(tokens, "token") + " of output, " + (tokens == 1 ? "which stands" : "which stand") + " as sent)";
    else if (tokens > 0) m += " (after " + Plural.count(tokens, "token") + " of output, " + (tokens == 1 ? "which is" : "which are") + " not returned)";
    return ApiError.forFailure(failed.code(), m, retryAfter.forCode(failed.code()), request.chat() ? "messages" : "prompt");
  }

  private void end(String openAiReason, String tandemReason, List<Out> out) {
    done = true;
    finishReason = openAiReason;
    tandemFinishReason = tandemReason;
    if (!request.stream()) return;
    OpenAi.StopReason stop = new OpenAi.StopReason(stopReason);
    OpenAi.ChunkChoice choice = request.chat()
        ? new OpenAi.ChunkChoice(0, new OpenAi.Delta(null, null, null), null, null, openAiReason, stop, null, null)
        : new OpenAi.ChunkChoice(0, null, "", null, openAiReason, stop, null, null);
    out.add(new Out(Json.write(chunk(List.of(choice), null, tandem(false))), false));
    if (request.includeUsage()) out.add(new Out(Json.write(chunk(List.of(), usage(), null)), false));
    out.add(new Out("[DONE]", true));
  }

  private OpenAi.Chunk chunk(List<OpenAi.ChunkChoice> choices, OpenAi.Usage usage, Object tandem) {
    return new OpenAi.Chunk(id, request.chat() ? "chat.completion.chunk" : "text_completion", created, model, choices,
        usage != null ? usage : noUsage(), null, tandem);
  }

  /**
   * A content chunk's {@code usage}: null written out when the stream asked for usage, as OpenAI's
   * API writes it on every chunk but the usage chunk ({@code stream_options.include_usage}); left out
   * otherwise.
   */
  private Object noUsage() {
    return request.includeUsage() ? OpenAi.NO_USAGE : null;
  }

  /**
   * The prompt as counted, and the output tokens the client received: all of the session's output,
   * the part of a step cut off by a time-out included, or the tokens through a stop string; of the
   * prompt's, those a worker's prefix cache held.
   */
  OpenAi.Usage usage() {
    return OpenAi.Usage.of(promptTokens, tokens, cachedTokens);
  }

  /** Of the prompt's tokens, those a worker's prefix cache held; -1 where that is not known. */
  int cachedTokens() {
    return cachedTokens;
  }

  /** Tandem's own account: who wrote what, the counters of the trace, and whether it degraded. */
  OpenAi.Tandem tandem(boolean withSpans) {
    com.fasterxml.jackson.databind.node.ObjectNode counters;
    if (trace != null) {
      counters = TraceJson.counters(counters());
    } else {
      counters = Json.object();
      var tk = counters.putObject("tokens");
      for (Author a : Author.values()) tk.put(a.name(), tokensBy(a));
    }
    List<OpenAi.Span> spans = null;
    if (withSpans) {
      spans = new ArrayList<>();
      // The trace's spans say why each part was written; they are the output when they cover it
      // all (not when a stop string or a stop token's left-out text cut it, or a time-out the step in flight).
      List<Span> traced = trace == null ? List.of() : trace.spans();
      if (trace != null && request.stop().isEmpty() && !cutByStop && (traced.isEmpty() ? 0 : traced.get(traced.size() - 1).end()) == tokens) {
        for (Span s : traced) spans.add(new OpenAi.Span(s.author().name(), s.reason().name(), s.start(), s.end(), s.text()));
      } else if (!clippedToOutput(traced, spans)) {
        for (Piece p : pieces) spans.add(new OpenAi.Span(p.author.name(), p.reason.name(), p.start, p.end, p.text.toString()));
      }
    }
    return new OpenAi.Tandem(request.mode().name(), tandemFinishReason, degraded, counters, spans);
  }

  /**
   * The trace's spans as far as the client got the output, into {@code spans}: through its {@link
   * #tokens} tokens, with the text it was shown (a stop string, or a stop token's text, cut from the
   * last), each step a span of its own as in the trace (the deltas' pieces merge a writer's steps in a
   * row). False, with {@code spans} untouched, where the trace does not hold the output so far (a
   * time-out cut the step in flight, which it leaves out).
   */
  private boolean clippedToOutput(List<Span> traced, List<OpenAi.Span> spans) {
    if (traced.isEmpty() || traced.get(traced.size() - 1).end() < tokens) return false;
    String shownText = seen.substring(0, shown);
    StringBuilder text = new StringBuilder();
    for (Span s : traced) {
      if (text.length() >= shownText.length() && s.start() >= tokens) break;
      text.append(s.text());
    }
    if (!text.toString().startsWith(shownText)) return false;
    int at = 0;
    for (Span s : traced) {
      if (s.start() >= tokens) break;
      int from = Math.min(at, shown);
      at += s.text().length();
      spans.add(new OpenAi.Span(s.author().name(), s.reason().name(), s.start(), Math.min(s.end(), tokens),
          shownText.substring(from, Math.min(at, shown))));
    }
    return true;
  }

  /**
   * The trace's counters (null without a trace). When a stop string cut the output, its tokens by
   * author are those the client received, as in {@link #usage}; the rest counts what ran.
   */
  Counters counters() {
    if (trace == null || stopReason == null) return trace == null ? null : trace.counters();
    Counters.Tally t = trace.counters().tally();
    t.smallTokens = 0;
    t.largeTokens = 0;
    t.injectedTokens = 0;
    for (Author a : Author.values()) t.tokens(a, tokensBy(a));
    return t.counters();
  }

  /** The non-streaming response object. */
  OpenAi.Completion response() {
    OpenAi.Choice choice;
    boolean withIds = request.engine().returnTokenIds();
    List<Integer> outputIds = withIds ? List.copyOf(ids) : null;
    if (request.chat()) {
      String c = content.length() > 0 || reasoning.length() == 0 ? content.toString() : null;
      String r = reasoning.length() > 0 ? reasoning.toString() : null;
      choice = new OpenAi.Choice(0, new OpenAi.Message("assistant", c, r, null), null, null, finishReason, stopReason,
          null, outputIds);
    } else {
      choice = new OpenAi.Choice(0, null, content.toString(), null, finishReason, stopReason,
          withIds ? promptTokenIds : null, outputIds);
    }
    // vLLM's ChatCompletionResponse carries the prompt's ids beside its choices; a completion's choice carries them.
    return new OpenAi.Completion(id, request.chat() ? "chat.completion" : "text_completion", created, model,
        List.of(choice), usage(), withIds && request.chat() ? promptTokenIds : null, tandem(true));
  }
}
