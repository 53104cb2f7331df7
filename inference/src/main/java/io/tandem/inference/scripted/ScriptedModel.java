package io.tandem.inference.scripted;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.inference.LanguageModel;
import io.tandem.inference.Sequence;
import io.tandem.inference.TextTokenizer;
import io.tandem.inference.TokenBuffer;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.ChatTemplateArgs;
import io.tandem.protocol.SamplingParams;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A model whose output is fixed per position: at position p (tokens of the session after the
 * prompt, injected ones included) it writes {@code tokens[p]}, and end-of-sequence past the end.
 * It ignores the prompt and the sampling parameters. For tests and simulations of the algorithm.
 */
public class ScriptedModel implements LanguageModel {

  private static final int PROMPT_TOKEN = ScriptedTokenizer.idOf("<prompt>");

  private final String name;
  private final int[] script;

  /**
   * A model that writes {@code tokens[p]} at session position {@code p}.
   *
   * @throws IllegalArgumentException when a token is empty (the empty text is end-of-sequence), or
   *     two token texts share an id
   */
  public ScriptedModel(String name, List<String> tokens) {
    this.name = name;
    this.script = new int[tokens.size()];
    for (int i = 0; i < tokens.size(); i++) {
      String t = tokens.get(i);
      if (t == null || t.isEmpty())
        throw new IllegalArgumentException(name + ": token " + i + " is empty; scripted tokens need text");
      script[i] = ScriptedTokenizer.idOf(t);
    }
  }

  /**
   * Reads {@code {"tokens": ["So", " x", ".\n\n", ...]}}.
   *
   * @throws IllegalArgumentException when the file cannot be read or is not such a script (the message names it)
   */
  public static ScriptedModel load(Path file) {
    return new ScriptedModel("scripted:" + file.getFileName(), readTokens(file));
  }

  /** The token texts of a script file; errors as {@link #load}. */
  public static List<String> readTokens(Path file) {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(io.tandem.protocol.text.Utf8Files.read("script", file));
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read script " + file + ": " + e.getMessage(), e);
    }
    JsonNode tokens = root == null ? null : root.get("tokens");
    if (tokens == null || !tokens.isArray())
      throw new IllegalArgumentException(file + ": a script is {\"tokens\": [\"...\", ...]}; no \"tokens\" array found");
    List<String> out = new ArrayList<>();
    for (int i = 0; i < tokens.size(); i++) {
      JsonNode t = tokens.get(i);
      if (!t.isTextual()) throw new IllegalArgumentException(file + ": tokens[" + i + "] is not a string");
      if (t.asText().isEmpty()) throw new IllegalArgumentException(file + ": tokens[" + i + "] is empty; scripted tokens need text");
      // Half an emoji (a "\\ud83d" escape alone) is no text: it was written as "?" in answers (tester53e).
      if (io.tandem.protocol.text.LoneSurrogates.in(t.asText()))
        throw new IllegalArgumentException(file + ": tokens[" + i + "] holds a lone UTF-16 surrogate, which no text can hold;"
            + " give a character whole in one token");
      out.add(t.asText());
    }
    return out;
  }

  /** The scripted token at a position after the prompt, or end-of-sequence. */
  public int tokenAt(int position) {
    return position < script.length ? script[position] : ScriptedTokenizer.EOS;
  }

  /** The number of scripted positions (end-of-sequence comes after them). */
  public int scriptLength() {
    return script.length;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public TextTokenizer tokenizer() {
    return ScriptedTokenizer.instance();
  }

  @Override
  public Set<Integer> eosTokenIds() {
    return Set.of(ScriptedTokenizer.EOS);
  }

  @Override
  public int contextLength() {
    return 1 << 20;
  }

  /** The prompt is one token, however it is rendered: the model ignores it. */
  @Override
  public int[] renderChat(List<ChatMessage> messages, ChatTemplateArgs args) {
    return new int[] {PROMPT_TOKEN};
  }

  @Override
  public Sequence newSequence(SamplingParams sampling) {
    return new ScriptedSequence();
  }

  /** Writes each sequence's scripted token for its position; the whole prompt counts as processed. */
  @Override
  public int[] forward(List<Sequence> batch, int maxPrefillTokens) {
    if (maxPrefillTokens < 1) throw new IllegalArgumentException("maxPrefillTokens must be >= 1, got " + maxPrefillTokens);
    int[] next = new int[batch.size()];
    for (int i = 0; i < batch.size(); i++) {
      ScriptedSequence s = (ScriptedSequence) batch.get(i);
      next[i] = tokenAt(s.positionAfterPrompt());
      s.markProcessed();
      s.append(new int[] {next[i]});
    }
    return next;
  }

  @Override
  public long cacheBytesPerToken() {
    return Integer.BYTES;
  }

  /** Tokens only; the first append is the prompt, whatever its length. */
  static final class ScriptedSequence implements Sequence {
    private final TokenBuffer tokens = new TokenBuffer();
    private int processed;
    private int promptLength = -1;

    int positionAfterPrompt() {
      if (promptLength < 0) throw new IllegalStateException("a scripted sequence needs its prompt first");
      return tokens.length() - promptLength;
    }

    void markProcessed() {
      processed = tokens.length();
    }

    @Override
    public int length() {
      return tokens.length();
    }

    @Override
    public int tokenAt(int position) {
      return tokens.at(position);
    }

    @Override
    public void append(int[] ids) {
      tokens.append(ids);
      // The prompt is everything up to the first append's end, a forked prefix included.
      if (promptLength < 0) promptLength = tokens.length();
    }

    @Override
    public Sequence forkPrefix(int n, SamplingParams sampling) {
      if (n < 0 || n > tokens.length()) throw new IllegalArgumentException("cannot fork " + n + " of " + tokens.length() + " tokens");
      ScriptedSequence fork = new ScriptedSequence();
      fork.tokens.append(tokens.range(0, n));
      fork.processed = Math.min(processed, n);
      return fork;
    }

    @Override
    public void truncate(int newLength) {
      tokens.truncate(newLength);
      processed = Math.min(processed, newLength);
      if (newLength < promptLength) promptLength = newLength == 0 ? -1 : newLength;
    }

    @Override
    public int processedLength() {
      return processed;
    }

    @Override
    public void dropCache() {
      processed = 0;
    }

    /** A simulated cache: four bytes per processed token. */
    @Override
    public long cacheBytes() {
      return (long) processed * Integer.BYTES;
    }

    @Override
    public void close() {
      tokens.truncate(0);
      processed = 0;
    }
  }
}
