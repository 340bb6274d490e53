import sys

if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):  # gan_lab's own help, without importing torch
        from gan_lab.help import help_text

        print(help_text())
    else:
        from gan_lab.training import main

        main()
