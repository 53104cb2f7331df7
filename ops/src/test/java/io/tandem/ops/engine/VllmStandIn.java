package io.tandem.ops.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.tandem.inference.LanguageModel;
import io.tandem.inference.Sequence;
import io.tandem.inference.text.IncrementalDecoder;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.text.StopStrings;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;

/**
 * A stand-in for vLLM's OpenAI server, for tests: {@code GET /v1/models} and a streamed {@code POST
 * /v1/completions} answering the fields Tandem's engine worker sends as vLLM answers them (token id
 * prompts, {@code stop} kept in the output, {@code return_token_ids}, usage with {@code
 * prompt_tokens_details.cached_tokens}), run by an in-process {@link LanguageModel} one request at a
 * time, with a prefix cache of its recent sequences (vLLM's automatic prefix caching, at token
 * granularity). Not vLLM: it shows what Tandem sends and reads, not what vLLM does on a GPU.
 */
final class VllmStandIn implements AutoCloseable {

  /** What the stand-in saw of one completion: prompt tokens and those its prefix cache held. */
  record Usage(int promptTokens, int cachedTokens) {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int CACHED_SEQUENCES = 64;

  private final String name;
  private final LanguageModel model;
  private final HttpServer server;
  private final ExecutorService thread = Executors.newSingleThreadExecutor();
  private final LinkedList<Sequence> cache = new LinkedList<>();
  final List<Usage> usages = new CopyOnWriteArrayList<>();
  /** Each completion's {@code cache_salt}, null where it sent none. */
  final List<String> cacheSalts = new CopyOnWriteArrayList<>();
  /** Counted down when the engine dies mid-completion ({@link #firstToServeDies}). */
  final java.util.concurrent.CountDownLatch died = new java.util.concurrent.CountDownLatch(1);
  /** When positive, every completion answers this status instead (a broken engine). */
  volatile int failWith;
  /** With {@link #failWith}: the answer says not to retry ({@code x-should-retry: false}, a Tandem node never ready). */
  volatile boolean neverReady;
  /** With {@link #failWith}: the error message of the answer. */
  volatile String failMessage = "stand-in told to fail";
  /** When positive, the max_model_len /v1/models lists (vLLM's --max-model-len below the model's context). */
  volatile int maxModelLen;
  /**
   * When positive, a completion whose prompt and max_tokens pass it is refused with vLLM's 400
   * ("This model's maximum context length is ..."), as vLLM refuses one past its max_model_len.
   */
  volatile int refuseBeyond;
  /**
   * When set, shared by several engines: the first completion any of them gets dies after two tokens,
   * and so does its engine (which one serves first depends on how sessions spread over them).
   */
  volatile java.util.concurrent.atomic.AtomicBoolean firstToServeDies;
  /**
   * While set and not counted down, the engine is stalled (SIGSTOP): its one thread waits before
   * each answer and each token, its connections open.
   */
  volatile java.util.concurrent.CountDownLatch stalled;
  /** When set, every completion ends at once with this finish_reason and no token (a broken engine). */
  volatile String endAtOnceWith;
  /** Released once at the start of each completion's stream. */
  final java.util.concurrent.Semaphore begun = new java.util.concurrent.Semaphore(0);

  VllmStandIn(String name, LanguageModel model) throws IOException {
    this.name = name;
    this.model = model;
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    server.setExecutor(thread); // the model's calls all come from one thread
    server.createContext("/v1/models", this::models);
    server.createContext("/v1/completions", this::completions);
    // No tokenizer endpoint of its own: a 404 as vLLM's for an unknown path, after a stall as every answer.
    server.createContext("/tokenize", ex -> {
      waitWhileStalled();
      ex.sendResponseHeaders(404, -1);
      ex.close();
    });
    server.start();
  }

  /** The API root, e.g. {@code http://127.0.0.1:PORT/v1}. */
  String baseUrl() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
  }

  /** The engine spec of this stand-in with the tokenizer folder {@code tokenizer}. */
  String spec(java.nio.file.Path tokenizer, String extra) {
    return "openai:" + baseUrl() + "?model=" + name + "&tokenizer=" + tokenizer + extra;
  }

  private void models(HttpExchange ex) throws IOException {
    waitWhileStalled();
    ObjectNode body = JSON.createObjectNode().put("object", "list");
    body.putArray("data").addObject().put("id", name).put("object", "model").put("max_model_len",
        maxModelLen > 0 ? maxModelLen : model.contextLength());
    byte[] out = JSON.writeValueAsBytes(body);
    ex.getResponseHeaders().add("Content-Type", "application/json");
    ex.sendResponseHeaders(200, out.length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(out);
    }
  }

  private void completions(HttpExchange ex) throws IOException {
    JsonNode req = JSON.readTree(ex.getRequestBody());
    cacheSalts.add(req.hasNonNull("cache_salt") ? req.get("cache_salt").asText() : null);
    if (failWith > 0) {
      byte[] out = JSON.writeValueAsBytes(JSON.createObjectNode().set("error", JSON.createObjectNode().put("message", failMessage)));
      if (neverReady) ex.getResponseHeaders().add("x-should-retry", "false");
      ex.sendResponseHeaders(failWith, out.length);
      try (OutputStream os = ex.getResponseBody()) {
        os.write(out);
      }
      return;
    }
    int[] prompt = new int[req.path("prompt").size()];
    for (int i = 0; i < prompt.length; i++) prompt[i] = req.path("prompt").get(i).asInt();
    int asked = prompt.length + req.path("max_tokens").asInt(16);
    if (refuseBeyond > 0 && asked > refuseBeyond) { // vLLM's ErrorResponse: flat, its code the status
      byte[] out = JSON.writeValueAsBytes(JSON.createObjectNode().put("object", "error").put("message", "This model's maximum"
          + " context length is " + refuseBeyond + " tokens. However, you requested " + asked + " tokens (" + prompt.length
          + " in the messages, " + (asked - prompt.length) + " in the completion). Please reduce the length of the messages or"
          + " completion.").put("type", "BadRequestError").putNull("param").put("code", 400));
      ex.getResponseHeaders().add("Content-Type", "application/json");
      ex.sendResponseHeaders(400, out.length);
      try (OutputStream os = ex.getResponseBody()) {
        os.write(out);
      }
      return;
    }
    int topK = req.path("top_k").asInt(-1);
    SamplingParams sampling = new SamplingParams(req.path("temperature").asDouble(1.0), Math.max(0, topK),
        req.path("top_p").asDouble(1.0), req.hasNonNull("seed") ? req.get("seed").asLong() : null);
    List<String> stops = new ArrayList<>();
    for (JsonNode s : req.path("stop")) stops.add(s.asText());
    StopStrings stop = stops.isEmpty() ? null : new StopStrings(stops);
    int maxTokens = req.path("max_tokens").asInt(16);
    boolean dies = firstToServeDies != null && firstToServeDies.compareAndSet(false, true);

    Sequence seq = fromCache(prompt, sampling);
    int cached = Math.min(seq.processedLength(), prompt.length);
    ex.getResponseHeaders().add("Content-Type", "text/event-stream");
    ex.sendResponseHeaders(200, 0);
    begun.release();
    try (OutputStream os = ex.getResponseBody()) {
      IncrementalDecoder detok = new IncrementalDecoder(model.tokenizer(), tail(prompt));
      StringBuilder text = new StringBuilder();
      String finish = "length";
      String stopReason = null;
      int generated = 0;
      if (endAtOnceWith != null) finish = endAtOnceWith;
      while (generated < maxTokens && endAtOnceWith == null) {
        waitWhileStalled();
        int id = model.forward(List.of(seq), Integer.MAX_VALUE)[0];
        if (id == LanguageModel.NOT_YET) continue;
        generated++;
        String t = detok.next(id);
        text.append(t);
        event(os, chunk(t, id, null, null));
        if (dies && generated == 2) {
          died.countDown();
          new Thread(this::close).start(); // the process is gone: no finish_reason, no usage, no [DONE]
          return;
        }
        if (model.eosTokenIds().contains(id)) {
          finish = "stop";
          break;
        }
        var hit = stop == null ? java.util.Optional.<StopStrings.Match>empty() : stop.find(text, t.length());
        if (hit.isPresent()) {
          finish = "stop";
          stopReason = hit.get().stop();
          break;
        }
      }
      event(os, chunk("", -1, finish, stopReason));
      ObjectNode usage = JSON.createObjectNode();
      usage.putArray("choices");
      usage.putObject("usage").put("prompt_tokens", prompt.length).put("completion_tokens", generated)
          .put("total_tokens", prompt.length + generated).putObject("prompt_tokens_details").put("cached_tokens", cached);
      event(os, JSON.writeValueAsString(usage));
      event(os, "[DONE]");
    } catch (IOException e) {
      // the client went away (a cancelled step): vLLM aborts the request, so does the stand-in
    } finally {
      usages.add(new Usage(prompt.length, cached));
      keep(seq);
    }
  }

  private void waitWhileStalled() {
    var latch = stalled;
    if (latch == null) return;
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static ObjectNode choice(ObjectNode root) {
    return ((ArrayNode) root.putArray("choices")).addObject().put("index", 0);
  }

  private String chunk(String text, int id, String finish, String stopReason) throws IOException {
    ObjectNode root = JSON.createObjectNode().put("object", "text_completion").put("model", name);
    ObjectNode c = choice(root).put("text", text);
    ArrayNode ids = c.putArray("token_ids");
    if (id >= 0) ids.add(id);
    c.put("finish_reason", finish);
    c.put("stop_reason", stopReason);
    return JSON.writeValueAsString(root);
  }

  private static void event(OutputStream os, String data) throws IOException {
    os.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
    os.flush();
  }

  /** A sequence holding {@code prompt}: the cached one it extends, a fork of the one sharing its longest prefix, or a new one. */
  private Sequence fromCache(int[] prompt, SamplingParams sampling) {
    Sequence best = null;
    int bestLength = 0;
    for (Sequence s : cache) {
      int n = 0;
      while (n < s.length() && n < prompt.length && s.tokenAt(n) == prompt[n]) n++;
      if (n > bestLength) {
        best = s;
        bestLength = n;
      }
    }
    Sequence seq;
    if (best == null) {
      seq = model.newSequence(sampling);
    } else if (bestLength == best.length()) {
      seq = best; // the session's own last request: go on from it
      cache.remove(best);
    } else {
      seq = best.forkPrefix(bestLength, sampling); // a shared prefix: copy its cache, keep the other
    }
    seq.append(java.util.Arrays.copyOfRange(prompt, seq.length(), prompt.length));
    return seq;
  }

  private void keep(Sequence s) {
    cache.addFirst(s);
    while (cache.size() > CACHED_SEQUENCES) cache.removeLast().close();
  }

  private static int[] tail(int[] ids) {
    return java.util.Arrays.copyOfRange(ids, Math.max(0, ids.length - 6), ids.length);
  }

  /** Stops answering at once, as a killed engine process does. */
  @Override
  public void close() {
    server.stop(0);
    thread.shutdownNow();
  }

  /**
   * Shuts down as vLLM's server does on SIGTERM, on a thread of its own: the listening port closes
   * at once (a new connection is refused), the completions in flight stream on to their end.
   */
  void shutDownGracefully() {
    new Thread(() -> server.stop(60)).start();
  }

  /** Whether the listening port refuses connections now (after {@link #shutDownGracefully}). */
  boolean portClosed() {
    try (java.net.Socket probe = new java.net.Socket("127.0.0.1", server.getAddress().getPort())) {
      return false;
    } catch (IOException refused) {
      return true;
    }
  }
}
