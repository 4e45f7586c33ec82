from deployc.compiler.cli import main

main()
