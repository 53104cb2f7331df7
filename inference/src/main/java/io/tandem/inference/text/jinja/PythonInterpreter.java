package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.InterpreterFactory;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;

/**
 * A Jinjava interpreter that prints booleans as Python does ({@code True}, {@code False}), and a string as it is, as
 * Jinja2 does: Jinjava's Python-like printing writes a string through JSON's escapes, and a control character in a
 * message other than a tab or line break reached the model as the six characters {@code \u0000} (tester59d). A float
 * prints as Python's {@code str} writes it ({@code 1e+21}, {@code 12345678.5}), not as Java's ({@code 1.0E21},
 * {@code 1.23456785E7}), and a list or dict as Python's {@code repr} ({@link PyRepr}).
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
    if (object instanceof Double || object instanceof Float) return PyRepr.str(((Number) object).doubleValue());
    if (PyRepr.isContainer(object)) return PyRepr.repr(object, super::getAsString);
    return super.getAsString(object);
  }
}
