from tokenport.cli import main

main()
