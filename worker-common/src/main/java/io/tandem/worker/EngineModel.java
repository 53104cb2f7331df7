package io.tandem.worker;

import io.tandem.inference.Sequence;
import io.tandem.inference.TextTokenizer;
import io.tandem.inference.hf.HfConfig;
import io.tandem.inference.text.ChatTemplate;
import io.tandem.inference.text.HfTokenizer;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.Token;
import io.tandem.inference.text.IncrementalDecoder;
import java.util.List;
import java.nio.file.Files;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The local half of a model served by a remote engine. With a tokenizer folder ({@link
 * EngineSpec#tokenizer()}, {@link #open}) its tokenizer and chat template are loaded from the
 * engine model's Hugging Face folder, so that prompts are rendered, triggers matched and tokens
 * counted here exactly as an in-process worker of the same model does, and only token ids travel
 * to the engine. Without one ({@link #remote}) the engine's own tokenizer answers ({@link
 * EngineVocabulary}): the worker prepares each admission by asking the engine, takes generated
 * text from the engine's stream, and learns the end of a sequence from the engine's {@code
 * finish_reason} (no EOS ids are known here).
 *
 * <p>Vocabulary sizes: models of one family share a tokenizer but may pad their embedding matrix
 * differently (DeepSeek-R1-Distill-Qwen-1.5B has {@code vocab_size} 151936, -32B 152064, over the
 * same 151665 tokens of one {@code tokenizer.json}). Token ids pass between them unchanged (the
 * tokenizer key is the same); an id at or beyond {@link #vocabSize()} can only come from an
 * engine serving another model than the tokenizer folder's, and the worker refuses it. Without a
 * folder the size is unknown (0) and no id is refused.
 */
final class EngineModel implements ServedModel {
  private final String name;
  private final TextTokenizer tokenizer;
  /** The engine's vocabulary when no tokenizer folder is here; null with one. */
  private final EngineVocabulary engineVocabulary;
  private final ChatTemplate template;
  private final Set<Integer> eos;
  private final int contextLength;
  private final int vocabularySize;

  private EngineModel(String name, TextTokenizer tokenizer, EngineVocabulary engineVocabulary, ChatTemplate template,
      Set<Integer> eos, int contextLength, int vocabularySize) {
    this.name = name;
    this.tokenizer = tokenizer;
    this.engineVocabulary = engineVocabulary;
    this.template = template;
    this.eos = eos;
    this.contextLength = contextLength;
    this.vocabularySize = vocabularySize;
  }

  /**
   * Loads the tokenizer folder of {@code spec}.
   *
   * @throws IllegalArgumentException when the tokenizer cannot be loaded, or neither {@code
   *     max-model-len} nor a {@code config.json} gives the context length
   */
  static EngineModel open(EngineSpec spec) {
    HfTokenizer tokenizer = HfTokenizer.load(spec.tokenizer());
    ChatTemplate template = null;
    try {
      template = ChatTemplate.load(spec.tokenizer());
    } catch (IllegalArgumentException e) {
      // raw prompts still work; a chat prompt gets a clear error from render
    }
    Set<Integer> eos = new LinkedHashSet<>();
    int context = spec.maxModelLen();
    int vocab = 0;
    if (Files.isRegularFile(spec.tokenizer().resolve("config.json"))) {
      HfConfig config = HfConfig.load(spec.tokenizer());
      eos.addAll(config.eosTokenIds());
      if (context == 0) context = config.contextLength();
      vocab = config.vocabSize();
    }
    if (eos.isEmpty()) tokenizer.eosTokenId().ifPresent(eos::add);
    if (context == 0)
      throw new IllegalArgumentException("engine " + spec.endpoint() + ": no max-model-len=N in its spec and no config.json in "
          + spec.tokenizer() + " to read max_position_embeddings from");
    return new EngineModel(name(spec), tokenizer, null, template, Set.copyOf(eos), context, vocab);
  }

  /**
   * The model of an engine whose tokenizer is not here, with the context length {@code
   * contextLength} (its spec's {@code max-model-len}, or what the engine lists).
   */
  static EngineModel remote(EngineSpec spec, int contextLength) {
    EngineVocabulary vocabulary = new EngineVocabulary(spec.model());
    return new EngineModel(name(spec), vocabulary, vocabulary, null, Set.of(), contextLength, 0);
  }

  /** This model with the context {@code contextLength} (what its engine serves, below what its spec or folder said). */
  EngineModel withContextLength(int contextLength) {
    return new EngineModel(name, tokenizer, engineVocabulary, template, eos, contextLength, vocabularySize);
  }

  /** The name logs and errors give the model: {@code MODEL@HOST:PORT}. */
  static String name(EngineSpec spec) {
    return spec.model() + "@" + spec.endpoint();
  }

  /** The engine's vocabulary when the engine tokenizes (no tokenizer folder here), else null. */
  EngineVocabulary engineVocabulary() {
    return engineVocabulary;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  @Override
  public Set<Integer> eosTokenIds() {
    return eos;
  }

  @Override
  public int contextLength() {
    return contextLength;
  }

  /** The model's {@code vocab_size} ({@code config.json}; 0 without one); every id the engine returns is below it. */
  @Override
  public int vocabSize() {
    return vocabularySize;
  }

  @Override
  public int[] render(Prompt prompt) {
    if (engineVocabulary != null) return ServedModel.render(prompt, tokenizer, p -> engineVocabulary.encodeChat(p));
    return ServedModel.render(prompt, tokenizer, p -> {
      if (template == null)
        throw new IllegalArgumentException(name + ": the tokenizer folder has no chat template (tokenizer_config.json "
            + "chat_template or chat_template.jinja); send a raw prompt instead (POST /v1/completions; tandem generate --no-chat-template)");
      return tokenizer.encode(template.render(p.messages(), p.chatTemplate()));
    });
  }

  /** Without a tokenizer folder: the injection the engine tokenized and decoded for the request being admitted. */
  @Override
  public List<Token> injection(String text, int max, IncrementalDecoder detok) {
    if (engineVocabulary == null) return ServedModel.super.injection(text, max, detok);
    List<Token> prepared = engineVocabulary.injection();
    if (prepared == null) throw new IllegalStateException("the engine was not asked to tokenize the injected text before admission");
    return prepared;
  }

  @Override
  public Sequence newSequence(SamplingParams sampling) {
    return new TokenSequence();
  }

  void close() {
    if (tokenizer instanceof HfTokenizer hf) hf.close();
  }
}
