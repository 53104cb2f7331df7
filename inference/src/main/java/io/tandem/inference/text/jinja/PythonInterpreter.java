package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.InterpreterFactory;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;

/**
 * A Jinjava interpreter that prints booleans as Python does ({@code True}, {@code False}), and a string as it is, as
 * Jinja2 does: Jinjava's Python-like printing writes a string through JSON's escapes, and a control character in a
 * message other than a tab or line break reached the model as the six characters {@code \u0000} (tester59d).
 */
public final class PythonInterpreter extends JinjavaInterpreter {

  /** Plugs this interpreter into a {@link JinjavaConfig}. */
  public static final InterpreterFactory FACTORY = new InterpreterFactory() {
    @Override
    public JinjavaInterpreter newInstance(JinjavaInterpreter orig) {
      return new PythonInterpreter(orig);
    }

    @Override
    public JinjavaInterpreter newInstance(Jinjava application, Context context, JinjavaConfig config) {
      return new PythonInterpreter(application, context, config);
    }
  };

  private PythonInterpreter(JinjavaInterpreter orig) {
    super(orig);
  }

  private PythonInterpreter(Jinjava application, Context context, JinjavaConfig config) {
    super(application, context, config);
  }

  @Override
  public String getAsString(Object object) {
    if (object instanceof Boolean b) return b ? "True" : "False";
    if (object instanceof CharSequence text) return text.toString();
    return super.getAsString(object);
  }
}
