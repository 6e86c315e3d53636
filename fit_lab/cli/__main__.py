from fit_lab.cli.main import main

main()
