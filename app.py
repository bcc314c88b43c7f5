"""CNN Playground: draw a digit, classify a photo, train a CNN in the browser, look inside it.

    python app.py [--host 127.0.0.1] [--port 7860] [--data-dir D] [--share] [--allow-any-path]

The same as the cnn-playground command. The app itself is the `ui` package (one module per tab);
the models, data, training and serving code it wires up are the `cnn` package.
"""

from ui.launch import main

if __name__ == "__main__":
    main()
